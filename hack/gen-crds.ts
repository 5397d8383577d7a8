// Generates crds/*.yaml from the schemas in src/api (the one source of truth), and the CRD
// reference docs/crd-reference.md from those schemas and the doc comments beside them; or with
// --verify checks that the checked-in files match what the sources generate. Run from the
// repository's root (make does).
//
//   node dist/hack/gen-crds.js crds           # write
//   node dist/hack/gen-crds.js --verify crds  # exit 1 and name the drifted files
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { renderCrds } from "./crd-files.js";
import { renderReference } from "./crd-reference.js";

const REFERENCE = "docs/crd-reference.md";

function main(argv: string[]): number {
  const verify = argv.includes("--verify");
  const dir = argv.filter((a) => !a.startsWith("--"))[0] ?? "crds";
  const files = renderCrds();
  const reference = renderReference(resolve("src/api/v1alpha1"));
  if (verify) {
    const drifted: string[] = [];
    for (const [name, text] of files) {
      let onDisk = "";
      try {
        onDisk = readFileSync(join(dir, name), "utf8");
      } catch {
        /* missing counts as drift */
      }
      if (onDisk !== text) drifted.push(name);
    }
    let doc = "";
    try {
      doc = readFileSync(REFERENCE, "utf8");
    } catch {
      /* missing counts as drift */
    }
    if (doc !== reference) drifted.push(REFERENCE);
    const extra = readdirSync(dir).filter((f) => !files.has(f));
    if (drifted.length > 0 || extra.length > 0) {
      console.error(
        `crds/ or ${REFERENCE} is out of date with src/api (drifted: ${drifted.join(", ") || "none"}; unexpected: ${extra.join(", ") || "none"}).\n` +
          "Run `make crds` and commit the result.",
      );
      return 1;
    }
    console.log(`crds/ and ${REFERENCE} match src/api (${files.size + 1} files)`);
    return 0;
  }
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  writeFileSync(REFERENCE, reference);
  console.log(`wrote ${files.size} files to ${dir}/ and ${REFERENCE}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
