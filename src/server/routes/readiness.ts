import { notReady, type ReadinessDeps } from "../readiness.js";
import type { RouteHandlers } from "./register-route.js";

export function readinessRoutes(deps: ReadinessDeps): RouteHandlers<"ready"> {
  return {
    ready: async () => {
      const problem = await notReady(deps);
      if (problem) throw problem;
      return { ok: true };
    },
  };
}
