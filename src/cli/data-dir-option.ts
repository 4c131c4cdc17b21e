import { Option } from "@commander-js/extra-typings";

/** The relay's data directory, as `serve` and `admin` take it (the relay applies the default). */
export const dataDirOption = () =>
  new Option("--data-dir <dir>", "data directory (default ./backchannel-data)").env("BACKCHANNEL_DATA_DIR");
