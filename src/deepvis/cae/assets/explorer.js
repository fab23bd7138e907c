/* deepvis.cae.explorer: the explorers of a 2-D code plane. Plain DOM and canvas, no library,
   no request: every datum comes from the JSON script of the same block. Each block starts once
   (data-ready: "loading", then "true" or "failed"), in a page or in JupyterLab alike. */
(() => {
  "use strict";
  const SIDE = 28;
  const HOVER_PX = 8; // the pointer chooses the nearest point within this many CSS pixels
  const RADIUS_PX = 1.6; // a point's radius, CSS pixels
  const ALPHA = 0.55; // a point's opacity (the static figures' 0.5, a touch darker on screen)
  const STEPS = 60; // an arrow key moves the cursor 1/STEPS of the plane (Shift: 5 times that)

  function bytesOf(base64) {
    const text = atob(base64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }

  // The grey values of a base64 greyscale PNG, as {width, grey: Uint8Array (height * width)}.
  async function greyPixels(png) {
    const picture = new Image();
    picture.src = "data:image/png;base64," + png;
    await picture.decode();
    const bitmap = await createImageBitmap(picture, {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(bitmap, 0, 0);
    const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const grey = new Uint8Array(bitmap.width * bitmap.height);
    for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];
    return { width: bitmap.width, grey };
  }

  // Each test image's tile in the sprite, which holds them sorted by class, stably
  // (deepvis.cae.explorer.sprite_order): Uint32Array, tile of image k at [k].
  function spriteTiles(labels, classCount) {
    const counts = new Uint32Array(classCount);
    for (const label of labels) counts[label]++;
    const next = new Uint32Array(classCount); // the next tile of each class: its first, at first
    for (let c = 1; c < classCount; c++) next[c] = next[c - 1] + counts[c - 1];
    const tiles = new Uint32Array(labels.length);
    for (let k = 0; k < labels.length; k++) tiles[k] = next[labels[k]]++;
    return tiles;
  }

  // Image k of a sprite of tiles, `columns` to a row (deepvis.cae.explorer.tile).
  function tileImage(sprite, columns, k) {
    const out = new Uint8Array(SIDE * SIDE);
    const top = Math.floor(k / columns) * SIDE;
    const left = (k % columns) * SIDE;
    for (let r = 0; r < SIDE; r++) {
      for (let c = 0; c < SIDE; c++) out[r * SIDE + c] = sprite.grey[(top + r) * sprite.width + left + c];
    }
    return out;
  }

  // Image (row, column) of an n x n grid, its pixels interleaved (deepvis.cae.explorer.interleave).
  function gridImage(sprite, n, row, column) {
    const out = new Uint8Array(SIDE * SIDE);
    for (let r = 0; r < SIDE; r++) {
      for (let c = 0; c < SIDE; c++) out[r * SIDE + c] = sprite.grey[(r * n + row) * sprite.width + c * n + column];
    }
    return out;
  }

  // Grey values on a 28 x 28 canvas as the figures show them (gray_r): ink dark on white.
  function paint(canvas, grey) {
    const context = canvas.getContext("2d");
    const image = context.createImageData(SIDE, SIDE);
    for (let i = 0; i < grey.length; i++) {
      const value = 255 - grey[i];
      image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = value;
      image.data[4 * i + 3] = 255;
    }
    context.putImageData(image, 0, 0);
  }

  const number = (value) => value.toFixed(2).replace("-", "\u2212");
  const pair = (u, v) => `(${number(u)}, ${number(v)})`;
  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

  class Explorer {
    constructor(container, shared, codes, ticks, grid) {
      this.shared = shared;
      this.codes = codes;
      this.ticks = ticks;
      this.grid = grid;
      this.n = Number(container.dataset.grid);
      [this.x0, this.x1, this.y0, this.y1] = container.dataset.extent.split(" ").map(Number);
      this.hidden = new Set();
      this.chosen = -1; // the test image shown
      this.cursor = null; // the keyboard cursor, [u, v]
      this.marker = null; // where the last click (or Enter) landed, [u, v]
      this.keyboard = false; // the keyboard is in use: show the cursor
      const find = (selector) => container.querySelector(selector);
      this.plane = find(".dv-plane");
      this.test = find(".dv-test");
      this.decoded = find(".dv-decoded");
      this.testClass = find(".dv-test-class");
      this.testCode = find(".dv-test-code");
      this.testIndex = find(".dv-test-index");
      this.decodedCode = find(".dv-decoded-code");
      this.decodedClick = find(".dv-decoded-click");
      this.ratio = window.devicePixelRatio || 1;
      const size = Math.round(this.plane.width * this.ratio);
      this.plane.width = this.plane.height = size;
      this.layer = document.createElement("canvas");
      this.layer.width = this.layer.height = size;
      this.listen(container);
      this.drawLayer();
      this.render();
    }

    // Backing-store pixels of code (u, v).
    toCanvas(u, v) {
      const size = this.plane.width;
      return [((u - this.x0) / (this.x1 - this.x0)) * size, ((this.y1 - v) / (this.y1 - this.y0)) * size];
    }

    // The code under a pointer event.
    codeAt(event) {
      const box = this.plane.getBoundingClientRect();
      const fx = (event.clientX - box.left) / box.width;
      const fy = (event.clientY - box.top) / box.height;
      return [this.x0 + fx * (this.x1 - this.x0), this.y1 - fy * (this.y1 - this.y0)];
    }

    // The shown point nearest code (u, v), within `limit` CSS pixels; -1 if none.
    nearest(u, v, limit) {
      const box = this.plane.getBoundingClientRect();
      const sx = box.width / (this.x1 - this.x0);
      const sy = box.height / (this.y1 - this.y0);
      const labels = this.shared.labels;
      let best = -1;
      let bestDistance = limit * limit;
      for (let k = 0; k < labels.length; k++) {
        if (this.hidden.has(labels[k])) continue;
        const dx = (this.codes[2 * k] - u) * sx;
        const dy = (this.codes[2 * k + 1] - v) * sy;
        const distance = dx * dx + dy * dy;
        if (distance <= bestDistance) { // ties: the point drawn last, on top
          best = k;
          bestDistance = distance;
        }
      }
      return best;
    }

    // The points, grid lines and frame, redrawn only when the shown classes change.
    drawLayer() {
      const context = this.layer.getContext("2d");
      const size = this.layer.width;
      context.globalAlpha = 1;
      context.fillStyle = "#fff";
      context.fillRect(0, 0, size, size);
      context.strokeStyle = "rgba(0, 0, 0, 0.1)";
      context.lineWidth = this.ratio;
      context.beginPath();
      for (const t of this.ticks[0]) {
        const [x] = this.toCanvas(t, this.y0);
        context.moveTo(x, 0);
        context.lineTo(x, size);
      }
      for (const t of this.ticks[1]) {
        const [, y] = this.toCanvas(this.x0, t);
        context.moveTo(0, y);
        context.lineTo(size, y);
      }
      context.stroke();
      context.strokeStyle = "#999";
      context.strokeRect(0.5 * this.ratio, 0.5 * this.ratio, size - this.ratio, size - this.ratio);
      context.globalAlpha = ALPHA;
      const { labels, colors } = this.shared;
      const radius = RADIUS_PX * this.ratio;
      for (let k = 0; k < labels.length; k++) { // the test set's order: classes mixed
        if (this.hidden.has(labels[k])) continue;
        const [x, y] = this.toCanvas(this.codes[2 * k], this.codes[2 * k + 1]);
        context.fillStyle = colors[labels[k]];
        context.beginPath();
        context.arc(x, y, radius, 0, 2 * Math.PI);
        context.fill();
      }
    }

    // The layer, then a ring round the chosen point, the keyboard cursor and the click marker.
    render() {
      const context = this.plane.getContext("2d");
      const r = this.ratio;
      context.drawImage(this.layer, 0, 0);
      context.lineWidth = 1.5 * r;
      if (this.chosen >= 0 && !this.hidden.has(this.shared.labels[this.chosen])) {
        const [x, y] = this.toCanvas(this.codes[2 * this.chosen], this.codes[2 * this.chosen + 1]);
        context.strokeStyle = "#000";
        context.beginPath();
        context.arc(x, y, 4.5 * r, 0, 2 * Math.PI);
        context.stroke();
      }
      if (this.cursor && this.keyboard && document.activeElement === this.plane) {
        const [x, y] = this.toCanvas(...this.cursor);
        context.strokeStyle = "#555";
        context.setLineDash([2 * r, 2 * r]);
        context.strokeRect(x - 6 * r, y - 6 * r, 12 * r, 12 * r);
        context.setLineDash([]);
      }
      if (this.marker) {
        const [x, y] = this.toCanvas(...this.marker);
        for (const [color, width] of [["#fff", 3.5 * r], ["#000", 1.5 * r]]) {
          context.strokeStyle = color;
          context.lineWidth = width;
          context.beginPath();
          context.moveTo(x - 5 * r, y - 5 * r);
          context.lineTo(x + 5 * r, y + 5 * r);
          context.moveTo(x + 5 * r, y - 5 * r);
          context.lineTo(x - 5 * r, y + 5 * r);
          context.stroke();
        }
      }
    }

    // Show test image k: enlarged, with its class and its code.
    showTest(k) {
      const { labels, classes, images, columns, tiles } = this.shared;
      this.chosen = k;
      paint(this.test, tileImage(images, columns, tiles[k]));
      this.test.setAttribute("aria-label", `test image ${k}: ${classes[labels[k]]}`);
      this.testClass.textContent = classes[labels[k]];
      this.testCode.textContent = `code ${pair(this.codes[2 * k], this.codes[2 * k + 1])}`;
      this.testIndex.textContent = `test image ${k}`;
      this.render();
    }

    // Show the decoded image of the grid point nearest code (u, v), marked on the plane.
    decodeAt(u, v) {
      const { n, x0, x1, y0, y1 } = this;
      const column = clamp(Math.floor(((u - x0) / (x1 - x0)) * n), 0, n - 1);
      const row = clamp(Math.floor(((y1 - v) / (y1 - y0)) * n), 0, n - 1);
      paint(this.decoded, gridImage(this.grid, n, row, column));
      const gu = x0 + ((column + 0.5) * (x1 - x0)) / n;
      const gv = y1 - ((row + 0.5) * (y1 - y0)) / n;
      this.decoded.setAttribute("aria-label", `decoded at ${pair(gu, gv)}`);
      this.decodedCode.textContent = `grid point ${pair(gu, gv)}`;
      this.decodedClick.textContent = `nearest to ${pair(u, v)}`;
      this.marker = [u, v];
      this.render();
    }

    // The keyboard cursor moved: show the shown point nearest it.
    followCursor() {
      const k = this.nearest(...this.cursor, Infinity);
      if (k >= 0) this.showTest(k);
      else this.render();
    }

    listen(container) {
      const plane = this.plane;
      plane.addEventListener("pointermove", (event) => {
        this.keyboard = false;
        const k = this.nearest(...this.codeAt(event), HOVER_PX);
        if (k >= 0 && k !== this.chosen) this.showTest(k);
      });
      plane.addEventListener("click", (event) => {
        this.cursor = this.codeAt(event);
        this.decodeAt(...this.cursor);
      });
      plane.addEventListener("focus", () => {
        if (!plane.matches(":focus-visible")) return; // focused by a click: the click decides
        this.keyboard = true;
        this.cursor = this.cursor || [(this.x0 + this.x1) / 2, (this.y0 + this.y1) / 2];
        this.followCursor();
      });
      plane.addEventListener("blur", () => this.render());
      plane.addEventListener("keydown", (event) => {
        const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
        if (!(event.key in moves) && event.key !== "Enter" && event.key !== " ") return;
        event.preventDefault();
        this.keyboard = true;
        this.cursor = this.cursor || [(this.x0 + this.x1) / 2, (this.y0 + this.y1) / 2];
        if (event.key in moves) {
          const [dx, dy] = moves[event.key];
          const step = (event.shiftKey ? 5 : 1) / STEPS;
          this.cursor = [
            clamp(this.cursor[0] + dx * step * (this.x1 - this.x0), this.x0, this.x1),
            clamp(this.cursor[1] + dy * step * (this.y1 - this.y0), this.y0, this.y1),
          ];
          this.followCursor();
        } else {
          this.decodeAt(...this.cursor);
        }
      });
      for (const button of container.querySelectorAll(".dv-class")) {
        button.addEventListener("click", () => {
          const k = Number(button.dataset.class);
          const show = this.hidden.has(k);
          if (show) this.hidden.delete(k);
          else this.hidden.add(k);
          button.setAttribute("aria-pressed", String(show));
          this.drawLayer();
          this.render();
        });
      }
    }
  }

  async function start(block) {
    const data = JSON.parse(block.querySelector("script.dv-data").textContent);
    const labels = bytesOf(data.labels);
    const shared = {
      classes: data.classes,
      colors: data.colors,
      labels,
      images: await greyPixels(data.images.png),
      columns: data.images.columns,
      tiles: spriteTiles(labels, data.classes.length),
    };
    for (const container of block.querySelectorAll("[data-deepvis-explorer]")) {
      const plane = data.planes[container.dataset.deepvisExplorer];
      const codes = new Float32Array(bytesOf(plane.codes).buffer);
      new Explorer(container, shared, codes, plane.ticks, await greyPixels(plane.grid));
    }
  }

  for (const block of document.querySelectorAll(".deepvis-explorers:not([data-ready])")) {
    block.dataset.ready = "loading";
    start(block).then(
      () => { block.dataset.ready = "true"; },
      (error) => {
        block.dataset.ready = "failed";
        const note = document.createElement("p");
        note.className = "dv-failed";
        note.textContent = `The explorer could not start: ${error}`;
        block.prepend(note);
      },
    );
  }
})();
