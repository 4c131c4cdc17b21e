import { describe, expect, it } from "vitest";
import { libpqUrl, pgDumpCommand, pgRestoreCommand, schemaOf, shellQuote } from "./postgres-tools.js";

describe("the pg_dump and pg_restore commands printed for a relay on PostgreSQL", () => {
  const url = "postgres://relay:s3cret@db.internal:5432/backchannel?sslmode=require";

  it("never carry the password, in the user part or a parameter", () => {
    for (const u of [url, "postgresql://relay@db/bc?password=s3cret&sslmode=require"]) {
      expect(pgDumpCommand(u, "bc.dump")).not.toContain("s3cret");
      expect(pgRestoreCommand(u, "bc.dump")).not.toContain("s3cret");
    }
    expect(libpqUrl(url)).toBe("postgres://relay@db.internal:5432/backchannel?sslmode=require");
  });

  it("dump in the custom format, and only the relay's schema when the URL names one", () => {
    expect(pgDumpCommand(url, "/backups/bc.dump")).toBe(
      "pg_dump --format=custom --file='/backups/bc.dump' --dbname='postgres://relay@db.internal:5432/backchannel?sslmode=require'",
    );
    // As node-postgres reads it (`+` is a space), written again the way libpq reads it (%20).
    const inSchema = "postgres://relay@db/bc?options=-c+search_path%3Dbackchannel";
    expect(schemaOf(inSchema)).toBe("backchannel");
    expect(pgDumpCommand(inSchema, "bc.dump")).toBe(
      "pg_dump --format=custom --schema='backchannel' --file='bc.dump' --dbname='postgres://relay@db/bc?options=-c%20search_path%3Dbackchannel'",
    );
  });

  it("restore in one transaction, replacing what the dump holds", () => {
    expect(pgRestoreCommand(url, "bc.dump")).toBe(
      "pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error --dbname='postgres://relay@db.internal:5432/backchannel?sslmode=require' 'bc.dump'",
    );
  });

  it("quote whatever a path holds for the shell", () => {
    expect(shellQuote("it's $(here)")).toBe(`'it'\\''s $(here)'`);
  });
});
