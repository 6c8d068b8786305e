// The parts of msw that ws-link uses, imported by name so bundlers keep only them (a
// dynamic import of 'msw' itself would take all of msw, GraphQL included). ws-link loads
// this file on first use.
export { WebSocketInterceptor } from '@mswjs/interceptors/WebSocket';
export { ws } from 'msw';
export { defineNetwork, InterceptorSource } from 'msw/experimental';
