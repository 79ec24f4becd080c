// A chart of delivery outcomes over time, as inline SVG (no library): the deliveries given (the
// latest page of a webhook's history) counted per time bucket by outcome, stacked bars. The bucket
// is the smallest of a minute, five minutes, an hour or a day that keeps at most 24 bars.

const SVG = "http://www.w3.org/2000/svg";
const BUCKETS = [60e3, 300e3, 3600e3, 86400e3];
const SERIES = [
  ["succeeded", "#0b6b2f", "Succeeded"],
  ["failed", "#a4161a", "Failed"],
  ["pending", "#b36200", "Pending"],
];

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

export function buckets(deliveries) {
  const times = deliveries.map((d) => Date.parse(d.createdAt)).filter((t) => !Number.isNaN(t));
  if (!times.length) return { size: BUCKETS[0], rows: [] };
  const first = Math.min(...times);
  const last = Math.max(...times);
  const size = BUCKETS.find((b) => (last - first) / b < 24) || BUCKETS[BUCKETS.length - 1];
  const start = Math.floor(first / size) * size;
  const count = Math.floor((last - start) / size) + 1;
  const rows = Array.from({ length: count }, (_, i) => ({ at: start + i * size, succeeded: 0, failed: 0, pending: 0 }));
  for (const d of deliveries) {
    const t = Date.parse(d.createdAt);
    if (Number.isNaN(t)) continue;
    const row = rows[Math.floor((t - start) / size)];
    if (row && d.status in row) row[d.status] += 1;
  }
  return { size, rows };
}

function label(at, size) {
  const date = new Date(at);
  return size >= 86400e3
    ? date.toLocaleDateString()
    : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function outcomeChart(deliveries) {
  const { size, rows } = buckets(deliveries);
  const box = document.createElement("figure");
  box.className = "chart";
  const caption = document.createElement("figcaption");
  const totals = Object.fromEntries(SERIES.map(([k]) => [k, rows.reduce((n, r) => n + r[k], 0)]));
  caption.textContent = `Outcomes of the latest ${deliveries.length} deliveries over time`;
  box.append(caption);
  if (!rows.length) {
    const none = document.createElement("p");
    none.className = "muted";
    none.textContent = "No deliveries to chart yet.";
    box.append(none);
    return box;
  }
  const width = 600;
  const height = 180;
  const left = 30;
  const bottom = 24;
  const highest = Math.max(1, ...rows.map((r) => r.succeeded + r.failed + r.pending));
  const slot = (width - left) / rows.length;
  const scale = (height - bottom - 8) / highest;
  const summary = SERIES.map(([k, , name]) => `${name} ${totals[k]}`).join(", ");
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `Delivery outcomes over time: ${summary}` },
    svg("title", {}, `Delivery outcomes over time: ${summary}`),
    svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#6b7380" }),
    svg("text", { x: 2, y: 14, "font-size": 11, fill: "#4d5560" }, String(highest)),
    svg("text", { x: 2, y: height - bottom, "font-size": 11, fill: "#4d5560" }, "0"),
  );
  rows.forEach((row, i) => {
    let y = height - bottom;
    for (const [key, colour, name] of SERIES) {
      if (!row[key]) continue;
      const tall = row[key] * scale;
      y -= tall;
      const bar = svg("rect", {
        x: left + i * slot + 2,
        y,
        width: Math.max(2, slot - 4),
        height: tall,
        fill: colour,
        "data-series": key,
      });
      bar.append(svg("title", {}, `${label(row.at, size)}: ${row[key]} ${name.toLowerCase()}`));
      chart.append(bar);
    }
    if (rows.length <= 12 || i % Math.ceil(rows.length / 12) === 0) {
      chart.append(
        svg("text", { x: left + i * slot + 2, y: height - 6, "font-size": 10, fill: "#4d5560" }, label(row.at, size)),
      );
    }
  });
  box.append(chart);
  const legend = document.createElement("p");
  legend.className = "legend";
  for (const [key, colour, name] of SERIES) {
    const item = document.createElement("span");
    const swatch = document.createElement("span");
    swatch.className = `swatch ${key}`;
    swatch.dataset.colour = colour;
    item.append(swatch, `${name}: ${totals[key]}`);
    legend.append(item);
  }
  box.append(legend);
  return box;
}
