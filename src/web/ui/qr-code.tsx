import { useEffect, useState } from "react";

/**
 * `text` as a QR code, drawn as one SVG path from the module grid (@paulmillr/qr, loaded when
 * first shown): no markup from a string, nothing the CSP refuses. Dark modules on a light
 * ground in both colour schemes, with the quiet zone scanners need.
 */
export function QrCode({
  text,
  label,
  ecc = "medium",
}: {
  text: string;
  label: string;
  /** Less correction, fewer modules: "low" keeps a long invite code scannable on a screen. */
  ecc?: "low" | "medium";
}) {
  const [grid, setGrid] = useState<boolean[][]>();
  useEffect(() => {
    let live = true;
    void import("@paulmillr/qr").then(({ encodeQR }) => {
      if (live) setGrid(encodeQR(text, "raw", { ecc, border: 4 }));
    });
    return () => {
      live = false;
    };
  }, [text, ecc]);
  if (!grid) return <p className="muted">Drawing the QR code…</p>;
  let d = "";
  grid.forEach((row, y) => row.forEach((dark, x) => (d += dark ? `M${x} ${y}h1v1h-1z` : "")));
  return (
    <svg
      className="qr-code"
      role="img"
      aria-label={label}
      viewBox={`0 0 ${grid.length} ${grid.length}`}
      shapeRendering="crispEdges"
    >
      <rect width={grid.length} height={grid.length} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}
