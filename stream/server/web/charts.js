// flowcam's charts: plain canvas, no library. chart(canvas, series, opts)
// draws each series ({name, points: [[t, v], ...]}) as a line over the last
// opts.window seconds, with the axis range and a legend, and records in
// canvas.dataset.points how many points each series has (what tests read).
"use strict";
const flowcamColors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
function chart(canvas, series, opts) {
  opts = opts || {};
  const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  const pad = {l: 44, r: 8, t: 18, b: 16};
  g.clearRect(0, 0, w, h);
  g.font = "11px system-ui, sans-serif";
  let tmax = 0, vmax = opts.max || 0;
  for (const s of series) for (const [t, v] of s.points) { tmax = Math.max(tmax, t); if (!opts.max) vmax = Math.max(vmax, v); }
  if (vmax <= 0) vmax = 1;
  const window = opts.window || 300, tmin = Math.max(0, tmax - window);
  const x = t => pad.l + (t - tmin) / Math.max(tmax - tmin, 1) * (w - pad.l - pad.r);
  const y = v => h - pad.b - Math.min(v, vmax) / vmax * (h - pad.t - pad.b);
  g.strokeStyle = "#ccc"; g.fillStyle = "#666";
  g.beginPath(); g.moveTo(pad.l, pad.t); g.lineTo(pad.l, h - pad.b); g.lineTo(w - pad.r, h - pad.b); g.stroke();
  g.fillText(fmt(vmax) + (opts.unit || ""), 2, pad.t + 4);
  g.fillText("0", 2, h - pad.b);
  g.fillText(Math.round(tmin) + " s", pad.l, h - 2);
  g.fillText(Math.round(tmax) + " s", w - pad.r - 30, h - 2);
  const counts = {};
  series.forEach((s, i) => {
    const color = flowcamColors[i % flowcamColors.length];
    const pts = s.points.filter(p => p[0] >= tmin);
    counts[s.name] = pts.length;
    g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
    pts.forEach(([t, v], j) => j ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v)));
    g.stroke();
    g.fillStyle = color;
    g.fillText(s.name, pad.l + 8 + i * 90, 12);
  });
  canvas.dataset.points = JSON.stringify(counts);
}
function fmt(v) { return v >= 100 ? Math.round(v) : +v.toFixed(v >= 10 ? 1 : 2); }
