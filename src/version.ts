/** exitscope's version, as package.json says (test/unit/version.test.ts keeps them equal): --version, build_info. */
export const EXITSCOPE_VERSION = '0.1.0';
