// examples/integrations/fastify.ts (docs/integrations.md, Fastify) through real sockets.
import { describeIntegration } from './harness.js';

describeIntegration('fastify', { example: 'examples/integrations/fastify.ts' });
