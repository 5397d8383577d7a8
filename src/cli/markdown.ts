/** A Markdown table cell: no pipes or line breaks. */
export const mdCell = (s: string | number | undefined): string => String(s ?? "").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

/** A Markdown table with a header row. */
export function mdTable(head: readonly string[], rows: readonly (readonly (string | number | undefined)[])[]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(mdCell).join(" | ")} |`)].join("\n");
}
