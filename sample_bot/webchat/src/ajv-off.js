// Stand-in for `ajv` when the Sunbird SDK is bundled for a page under a strict CSP. The SDK
// builds an Ajv instance when it loads, even with enableValidation: false, and Ajv compiles
// schemas with `new Function`, which a CSP without 'unsafe-eval' blocks (window.$t would stay
// undefined). The collector validates every event instead, so this accepts them all.
export default class AjvOff {
  getSchema() {
    return () => true;
  }

  errorsText() {
    return '';
  }
}
