// gankit's report page: draws the lab's views and the training curves from the JSON embedded in the page.
// No library and no network: a canvas per view, a canvas per chart, a slider over the saved steps.
"use strict";
(function () {
  const REAL = "#009E73", FAKE = "#E69F00", MANIFOLD = "#3b3b3b", FINDING = "#b2182b";

  function data(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  function setupCanvas(canvas, width, height) {
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    return ctx;
  }

  // ----- the lab view: heatmap, 0.5 contour, manifold, points, arrows -----
  function drawView(canvas, view, frame) {
    // Margins for the tick labels and axis names (left, bottom) and a little air (top, right).
    const box = view.box, left = 48, right = 10, top = 8, bottom = 38;
    const spanX = box[1] - box[0], spanY = box[3] - box[2];
    const width = Math.min(560, canvas.parentElement.clientWidth || 560);
    const scale = (width - left - right) / spanX;
    const height = Math.round(spanY * scale + top + bottom);
    const ctx = setupCanvas(canvas, width, height);
    const px = (x) => left + (x - box[0]) * scale;
    const py = (y) => height - bottom - (y - box[2]) * scale;
    // Points and arrows outside the box are cut at its edge, not drawn over the labels or the slider.
    ctx.save();
    ctx.beginPath();
    ctx.rect(px(box[0]), py(box[3]), spanX * scale, spanY * scale);
    ctx.clip();

    const grid = frame.prob;
    const image = document.createElement("canvas");
    image.width = grid.w;
    image.height = grid.h;
    const pixels = image.getContext("2d").createImageData(grid.w, grid.h);
    for (let row = 0; row < grid.h; row++) {
      for (let col = 0; col < grid.w; col++) {
        const colour = view.colormap[grid.data[row * grid.w + col]];
        const at = 4 * ((grid.h - 1 - row) * grid.w + col); // row 0 is the lowest y
        pixels.data[at] = colour[0];
        pixels.data[at + 1] = colour[1];
        pixels.data[at + 2] = colour[2];
        pixels.data[at + 3] = 217;
      }
    }
    image.getContext("2d").putImageData(pixels, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(image, px(box[0]), py(box[3]), spanX * scale, spanY * scale);

    function polyline(points, colour, lineWidth) {
      if (points.length < 2) return;
      ctx.beginPath();
      ctx.moveTo(px(points[0][0]), py(points[0][1]));
      for (const p of points.slice(1)) ctx.lineTo(px(p[0]), py(p[1]));
      ctx.strokeStyle = colour;
      ctx.lineWidth = lineWidth;
      ctx.stroke();
    }
    ctx.globalAlpha = 0.75;
    for (const line of frame.manifold) polyline(line, MANIFOLD, 0.8);
    ctx.globalAlpha = 1;
    for (const line of frame.contour) polyline(line, "#000", 1.5);

    function dots(points, fill, rim, radius) {
      ctx.fillStyle = fill;
      ctx.strokeStyle = rim;
      ctx.lineWidth = 0.5;
      for (const p of points) {
        ctx.beginPath();
        ctx.arc(px(p[0]), py(p[1]), radius, 0, 2 * Math.PI);
        ctx.fill();
        ctx.stroke();
      }
    }
    dots(view.real, REAL, "#fff", 2.2);
    dots(frame.fake, FAKE, "#000", 2.6);

    ctx.strokeStyle = "rgba(0,0,0,0.75)";
    ctx.fillStyle = "rgba(0,0,0,0.75)";
    ctx.lineWidth = 1;
    frame.push.forEach((d, i) => {
      const p = frame.fake[i];
      const x0 = px(p[0]), y0 = py(p[1]);
      const x1 = px(p[0] + frame.arrow_scale * d[0]), y1 = py(p[1] + frame.arrow_scale * d[1]);
      const length = Math.hypot(x1 - x0, y1 - y0);
      if (length < 0.5) return;
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
      const angle = Math.atan2(y1 - y0, x1 - x0), head = Math.min(5, 0.4 * length);
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x1 - head * Math.cos(angle - 0.45), y1 - head * Math.sin(angle - 0.45));
      ctx.lineTo(x1 - head * Math.cos(angle + 0.45), y1 - head * Math.sin(angle + 0.45));
      ctx.closePath();
      ctx.fill();
    });
    ctx.restore();

    ctx.strokeStyle = "#444";
    ctx.lineWidth = 1;
    ctx.strokeRect(px(box[0]), py(box[3]), spanX * scale, spanY * scale);
    ctx.fillStyle = "#222";
    ctx.font = "12px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of ticks(box[0], box[1], 6)) ctx.fillText(format(t), px(t), height - bottom + 5);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of ticks(box[2], box[3], 6)) {
      if (py(t) < height - bottom - 8) ctx.fillText(format(t), left - 5, py(t)); // none in the x labels' corner
    }
    ctx.textBaseline = "alphabetic";
    ctx.textAlign = "center";
    ctx.fillText(view.labels[0], px((box[0] + box[1]) / 2), height - 4);
    ctx.save();
    ctx.translate(12, py((box[2] + box[3]) / 2));
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(view.labels[1], 0, 0);
    ctx.restore();
  }

  // ----- charts: the losses and the metric, with the slider's step marked -----
  function ticks(lo, hi, count) {
    const raw = (hi - lo) / count, power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) out.push(t);
    return out;
  }

  // 1, 2 and 5 times the powers of ten between 10^lo and 10^hi (and the ends when there are fewer than two).
  function logTicks(lo, hi) {
    const out = [];
    for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
      for (const m of [1, 2, 5]) {
        const v = m * Math.pow(10, k);
        if (Math.log10(v) >= lo && Math.log10(v) <= hi) out.push(v);
      }
    }
    return out.length >= 2 ? out : [Math.pow(10, lo), ...out, Math.pow(10, hi)];
  }

  function format(v) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1000) return Math.round(v).toLocaleString("en");
    return Number(v.toPrecision(3)).toString();
  }

  function drawChart(canvas, chart, marker, findings) {
    const width = Math.min(520, canvas.parentElement.clientWidth || 520), height = 190;
    const ctx = setupCanvas(canvas, width, height);
    const left = 52, right = 26, top = 22, bottom = 28;
    const all = chart.series.flatMap((s) => s.points);
    if (!all.length) {
      ctx.fillText("no data yet", width / 2, height / 2);
      return;
    }
    const xs = all.map((p) => p[0]);
    const log = chart.log && all.every((p) => p[1] > 0);
    const yv = (v) => (log ? Math.log10(v) : v);
    let ys = all.map((p) => yv(p[1]));
    // Steps from 0, so that a run's charts share their x axis even with one evaluation.
    let x0 = 0, x1 = Math.max(1, ...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    const padY = 0.05 * (y1 - y0);
    y0 -= padY;
    y1 += padY;
    const px = (x) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
    const py = (y) => height - bottom - ((yv(y) - y0) / (y1 - y0)) * (height - top - bottom);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = "#222";
    ctx.strokeStyle = "#ddd";
    ctx.lineWidth = 1;
    const yTicks = log ? logTicks(y0, y1) : ticks(y0, y1, 4);
    ctx.textAlign = "right";
    for (const t of yTicks) {
      const y = py(t);
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(width - right, y);
      ctx.stroke();
      ctx.fillText(format(t), left - 4, y + 4);
    }
    ctx.textAlign = "center";
    for (const t of ticks(x0, x1, 5)) ctx.fillText(format(t), px(t), height - bottom + 14);
    ctx.textAlign = "left";
    ctx.font = "bold 12px sans-serif";
    ctx.fillText(chart.title + (log ? " (log scale)" : ""), left, 13);
    ctx.font = "11px sans-serif";
    let legendX = width - right;
    ctx.textAlign = "right";
    for (const s of chart.series.slice().reverse()) {
      ctx.fillStyle = s.colour;
      ctx.fillText(s.name, legendX, 13);
      legendX -= ctx.measureText(s.name).width + 12;
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(left - 4, top - 4, width - left - right + 8, height - top - bottom + 8); // room for the end dots
    ctx.clip();
    for (const s of chart.series) {
      if (!s.points.length) continue;
      ctx.beginPath();
      s.points.forEach((p, i) => (i ? ctx.lineTo(px(p[0]), py(p[1])) : ctx.moveTo(px(p[0]), py(p[1]))));
      ctx.strokeStyle = s.colour;
      ctx.lineWidth = 1.6;
      ctx.setLineDash(s.dashed ? [5, 4] : []);
      ctx.stroke();
      if (s.points.length < 30 && !s.dashed) {
        ctx.fillStyle = s.colour; // few points (evaluations): each marked, a single one visible at all
        for (const p of s.points) {
          ctx.beginPath();
          ctx.arc(px(p[0]), py(p[1]), 2.5, 0, 2 * Math.PI);
          ctx.fill();
        }
      }
    }
    ctx.restore();
    ctx.setLineDash([]);
    ctx.strokeStyle = FINDING; // the doctor's findings: a dashed line at each one's step
    ctx.setLineDash([3, 3]);
    for (const f of findings) {
      ctx.beginPath();
      ctx.moveTo(px(f.step), top);
      ctx.lineTo(px(f.step), height - bottom);
      ctx.stroke();
    }
    ctx.setLineDash([]);
    if (marker !== null) {
      ctx.strokeStyle = "rgba(0,0,0,0.5)";
      ctx.beginPath();
      ctx.moveTo(px(marker), top);
      ctx.lineTo(px(marker), height - bottom);
      ctx.stroke();
    }
  }

  // ----- one viewer: a view (or a sample grid), its charts, a slider over the frames -----
  function viewer(element) {
    const view = data(element.dataset.source);
    const canvas = element.querySelector("canvas.gk-view");
    const image = element.querySelector("img.gk-grid");
    const charts = Array.from(element.querySelectorAll("canvas.gk-chart"));
    const slider = element.querySelector("input.gk-slider");
    const label = element.querySelector(".gk-step");
    const numbers = element.querySelector(".gk-numbers");
    const notes = element.querySelector(".gk-findings");
    const findings = view.findings || [];
    function show(index) {
      const frame = view.frames[index];
      if (canvas) drawView(canvas, view, frame);
      if (image) image.src = frame.png;
      charts.forEach((c, i) => drawChart(c, view.charts[i], frame.step, findings));
      if (label) label.textContent = "step " + frame.step.toLocaleString("en");
      if (numbers) numbers.textContent = frame.numbers || "";
      if (notes) {
        // The findings up to the slider's step, as the training had said them by then.
        notes.replaceChildren(
          ...findings
            .filter((f) => f.step <= frame.step)
            .map((f) => {
              const line = document.createElement("div");
              line.textContent = "step " + f.step.toLocaleString("en") + ", " + f.kind + ": " + f.text;
              return line;
            }),
        );
      }
    }
    if (slider) slider.addEventListener("input", () => show(Number(slider.value)));
    show(view.frames.length - 1);
  }

  document.querySelectorAll(".gk-viewer").forEach(viewer);
})();
