import { genesisHash } from "../protocol/index.js";

/** The head of an empty caucus transcript. */
export const genesis = (caucusId: string) => ({ seq: 0, hash: genesisHash(caucusId) });
