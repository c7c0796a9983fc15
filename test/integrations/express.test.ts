// examples/integrations/express.ts (docs/integrations.md, Express) through real sockets.
import { describeIntegration } from './harness.js';

describeIntegration('express', { example: 'examples/integrations/express.ts' });
