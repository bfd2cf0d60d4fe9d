export * from './connection.ts';
export * from './credentials.ts';
export * from './http2-transport.ts';
export * from './jwt-signer.ts';
export * from './legacy-feedback-client.ts';
export * from './node-apn-transport.ts';
export * from './node-http2-connection.ts';
export * from './transport.ts';
