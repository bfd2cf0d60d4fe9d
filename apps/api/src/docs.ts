import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { transform, transformObject } from './schema/transform.ts';

/** The bearer scheme every route with a permission requires (`security: [{ apiKey: [] }]`). */
const securitySchemes = {
  apiKey: {
    type: 'http' as const,
    scheme: 'bearer',
    description:
      'An API key: `Authorization: Bearer <key>`. Keys are scoped to apps and permissions (`send`, ' +
      '`register`, `read`, `admin` ⊇ all); 401 without a valid key, 403 for one not scoped to the app or ' +
      'lacking the permission, 429 (`Retry-After`) over its rate. With no keys configured auth is off ' +
      '(development only).',
  },
};

const tags = [
  { name: 'notifications', description: 'One notification to up to 1000 tokens, user ids or tags' },
  { name: 'campaigns', description: 'Large audiences: uploaded token lists or the device registry' },
  { name: 'reports', description: 'Every token that did not end delivered, as NDJSON or CSV' },
  { name: 'devices', description: 'The device registry: tokens with user ids, tags and locales' },
  { name: 'feedback', description: 'Tokens APNs invalidated, to clean your own database' },
  {
    name: 'apps',
    description: 'The admin API (permission `admin`): apps and their credentials, managed at run time',
  },
  { name: 'ops', description: 'Metrics and health checks (no key)' },
];

const description = `Pushfleet is an Apple Push Notification provider: this API validates, enqueues and answers
fast; workers deliver over HTTP/2. Every route is under \`/v1/apps/{app}/…\`; the admin API manages the apps
themselves (\`/v1/apps\`).

Every error body is \`{ code, message, field? }\` with a stable \`PF_ERR_\` code: each operation lists the
codes it can answer, by status. Creating routes take an \`Idempotency-Key\`.`;

/**
 * `/docs/json` (the OpenAPI 3.0 document, generated from the routes' zod schemas by
 * @fastify/swagger) and `/docs` (Swagger UI, served from @fastify/swagger-ui's own files: no
 * CDN, works offline). Registered before the routes, so its onRoute hook sees all of them.
 */
export function registerDocs(api: FastifyInstance): void {
  void api.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Pushfleet API', version: '1', description },
      tags,
      components: { securitySchemes },
    },
    transform,
    transformObject,
  });
  void api.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    theme: { title: 'Pushfleet API' },
    uiConfig: {
      docExpansion: 'list',
      deepLinking: true,
      defaultModelsExpandDepth: 1,
      displayRequestDuration: true,
      filter: true,
      tryItOutEnabled: false,
    },
    // Everything the page loads comes from this server: its own scripts, styles and the document.
    staticCSP:
      "default-src 'self'; base-uri 'self'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; " +
      "object-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'self'",
  });
}
