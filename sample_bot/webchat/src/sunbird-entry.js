// The Sunbird telemetry SDK's ESM build, bundled by esbuild (with ajv-off.js for `ajv`) into
// dist/sunbird.js. Loading it sets window.$t (and window.EkTelemetry).
export * from '@project-sunbird/telemetry-sdk';
