// examples/integrations/hono.ts (docs/integrations.md, Hono) through real sockets.
import { describeIntegration } from './harness.js';

describeIntegration('hono', { example: 'examples/integrations/hono.ts' });
