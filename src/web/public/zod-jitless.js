// The console's CSP forbids eval. zod (the shared wire schemas) probes `new Function` once to
// decide whether to compile fast parsers, and the browser reports the refused probe as a CSP
// violation. Telling zod up front not to compile avoids the probe. This must run before any
// schema is defined, so it is a classic script, which runs before the bundle's module scripts;
// zod reads its global config from this property (zod/v4/core/core.js, `globalConfig`).
globalThis.__zod_globalConfig = Object.assign(globalThis.__zod_globalConfig || {}, { jitless: true });
