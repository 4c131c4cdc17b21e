/** Where `demo --nodes` finds its services unless told otherwise (this machine's defaults). */
export const defaultDemoDatabaseUrl = "postgres://postgres@127.0.0.1:5432/postgres";
export const defaultDemoNatsUrl = "nats://127.0.0.1:4222";
