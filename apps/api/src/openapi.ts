import { campaignSpecSchema, errorCatalogue, sendRequestSchema } from '@pushfleet/core';
import { z } from 'zod';
import { deviceBodySchema, deviceImportLineSchema } from './routes/devices.ts';

const json = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'openapi-3.0' });

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonBody = (name: string) => ({
  required: true,
  content: { 'application/json': { schema: ref(name) } },
});
const ok = (description: string, schema?: object) => ({
  description,
  ...(schema ? { content: { 'application/json': { schema } } } : {}),
});
const errors = {
  '4XX': ok('Error with a stable code (see README)', ref('Error')),
  '5XX': ok('Server error', ref('Error')),
};
const app = { name: 'app', in: 'path', required: true, schema: { type: 'string' } };
const pathParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });
const query = (name: string, description: string) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema: { type: 'string' },
});
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'Same key within 24 h → same answer, nothing enqueued twice',
  schema: { type: 'string', maxLength: 255 },
};

/** The OpenAPI 3.0 document, generated from the same zod schemas that validate requests. */
export function buildOpenApi(): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: { title: 'Pushfleet API', version: '1' },
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
      schemas: {
        SendRequest: json(sendRequestSchema),
        CampaignSpec: json(campaignSpecSchema),
        Device: json(deviceBodySchema),
        DeviceImportLine: json(deviceImportLineSchema),
        Error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string', enum: Object.keys(errorCatalogue) },
            message: { type: 'string' },
            field: { type: 'string' },
          },
        },
      },
    },
    security: [{ apiKey: [] }],
    paths: {
      '/v1/apps/{app}/notifications': {
        post: {
          summary: 'Send one notification to up to 1000 tokens, or to user ids / tags (permission: send)',
          parameters: [app, idempotencyKey],
          requestBody: jsonBody('SendRequest'),
          responses: { 202: ok('Accepted: { id, accepted }'), ...errors },
        },
      },
      '/v1/apps/{app}/notifications/{id}': {
        get: {
          summary: 'State and outcome counts (permission: read)',
          parameters: [app, pathParam('id')],
          responses: { 200: ok('Status'), ...errors },
        },
        delete: {
          summary: 'Cancel what is not sent yet (permission: send)',
          parameters: [app, pathParam('id')],
          responses: { 202: ok('Status'), ...errors },
        },
      },
      '/v1/apps/{app}/campaigns': {
        post: {
          summary:
            'Create a campaign: JSON spec with a registry audience, or an uploaded token list ' +
            '(application/x-ndjson: first line the spec, then one token per line; text/plain: the spec ' +
            'in the Pushfleet-Campaign header, one hex token per line). Answers 202 { campaignId, total }.',
          parameters: [app, idempotencyKey],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: ref('CampaignSpec') },
              'application/x-ndjson': { schema: { type: 'string' } },
              'text/plain': { schema: { type: 'string' } },
            },
          },
          responses: { 202: ok('Accepted: { campaignId, total }'), ...errors },
        },
        get: {
          summary: 'List campaigns, newest first (permission: read)',
          parameters: [app, query('limit', '1–500, default 50'), query('before', 'cursor from `next`')],
          responses: { 200: ok('{ items, next }'), ...errors },
        },
      },
      '/v1/apps/{app}/campaigns/{id}': {
        get: {
          summary: 'Campaign progress (permission: read)',
          parameters: [app, pathParam('id')],
          responses: { 200: ok('Campaign status'), ...errors },
        },
        delete: {
          summary: 'Cancel: batches not yet sent are dropped and counted as cancelled (permission: send)',
          parameters: [app, pathParam('id')],
          responses: { 202: ok('Campaign status'), ...errors },
        },
      },
      '/v1/apps/{app}/devices/{token}': {
        put: {
          summary: 'Register or refresh a device token (permission: register)',
          parameters: [app, pathParam('token')],
          requestBody: jsonBody('Device'),
          responses: { 200: ok('Registration'), ...errors },
        },
        get: {
          summary: 'Read a registration (permission: read)',
          parameters: [app, pathParam('token'), query('environment', 'sandbox | production')],
          responses: { 200: ok('Registration'), ...errors },
        },
        delete: {
          summary: 'Unregister (permission: register)',
          parameters: [app, pathParam('token'), query('environment', 'sandbox | production')],
          responses: { 204: ok('Removed'), ...errors },
        },
      },
      '/v1/apps/{app}/devices/import': {
        post: {
          summary: 'Bulk import (NDJSON of DeviceImportLine, streamed; or JSON { devices: [...] })',
          parameters: [app],
          requestBody: {
            required: true,
            content: {
              'application/x-ndjson': { schema: ref('DeviceImportLine') },
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { devices: { type: 'array', items: ref('DeviceImportLine') } },
                },
              },
            },
          },
          responses: { 200: ok('{ imported }'), ...errors },
        },
      },
      '/v1/apps/{app}/feedback': {
        get: {
          summary:
            'Tokens the feedback service retired (purged) or found unregistered (unknown), with reason and timestamp, cursor-paged (permission: read)',
          parameters: [app, query('since', 'feed id or ms timestamp'), query('limit', '1–10000')],
          responses: { 200: ok('{ items, next }'), ...errors },
        },
      },
    },
  };
}

/** A dependency-free docs page: the document rendered as a list of operations. */
export const docsHtml = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pushfleet API</title>
<style>body{font:15px system-ui;margin:2rem auto;max-width:60rem}code{background:#f3f3f3;padding:0 .3em}
.op{margin:.8rem 0}.m{display:inline-block;width:4.5rem;font-weight:bold}pre{background:#f7f7f7;padding:.5rem;overflow:auto}</style>
</head><body><h1>Pushfleet API</h1><p>OpenAPI document: <a href="/docs/json">/docs/json</a>.
Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>.</p><div id="ops"></div>
<script>
fetch('/docs/json').then(r => r.json()).then(doc => {
  const out = document.getElementById('ops');
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const div = document.createElement('div'); div.className = 'op';
    div.innerHTML = '<span class="m">' + method.toUpperCase() + '</span><code></code><div></div>';
    div.querySelector('code').textContent = path; div.querySelector('div').textContent = op.summary;
    out.appendChild(div);
  }
  const pre = document.createElement('pre'); pre.textContent = JSON.stringify(doc.components.schemas, null, 2);
  out.appendChild(pre);
});
</script></body></html>`;
