/* "Verify this file": prove in the browser that a file you hold is in the log.
 *
 * A classic script (no modules, no eval, no inline code) so that it runs under a
 * strict Content-Security-Policy; it fetches only files of this site and uses
 * WebCrypto (SHA-256, Ed25519). The steps, numbered as in the report it shows and
 * in docs/verify-in-browser.md:
 *   (1) hash the file with SHA-256;
 *   (2) find its log entry in the lookup index index/sha256/<h[0:3]>
 *       (or, where the site has no index, take this page's entry);
 *   (3) fetch log/checkpoint and check its signature (C2SP signed-note, Ed25519) with
 *       the key published at log/vkey and, separately, with a key the visitor pasted;
 *   (4) read the entry from its bundle (C2SP tlog-tiles §Log entries) and check that
 *       its sha256 is the file's;
 *   (5) authenticate the hash tiles against the checkpoint root and build the
 *       RFC 9162 §2.1.3.1 inclusion proof from them (C2SP tlog-tiles §Merkle Tree);
 *   (6) verify the proof against the checkpoint root (RFC 9162 §2.1.3.2).
 * Tree sizes are JavaScript numbers: sizes beyond 2^53 are refused, not rounded.
 */
(function () {
  "use strict";

  const TILE_WIDTH = 256; // C2SP tlog-tiles: tiles of height 8
  const HASH_SIZE = 32;
  const enc = new TextEncoder();

  /** A failure whose message says, in words, what did not hold. */
  class Failure extends Error {}

  function fail(message) {
    throw new Failure(message);
  }

  // ---- bytes, text and hashes ---------------------------------------------------

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
    return out;
  }

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  /** RFC 4648 §4 base64 with padding, canonical only (as Go's StdEncoding). */
  function unbase64(text, what) {
    let binary = "";
    try {
      binary = atob(text);
    } catch (e) {
      fail(what + " is not base64");
    }
    if (text.length % 4 || btoa(binary) !== text) fail(what + " is not canonical base64");
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  /** Strict UTF-8 text of ``bytes``. */
  function decode(bytes, what) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (e) {
      return fail(what + " is not UTF-8 text");
    }
  }

  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));

  /** RFC 9162 §2.1.1: leaf hash SHA-256(0x00 ‖ d), node hash SHA-256(0x01 ‖ l ‖ r). */
  const leafHash = (entry) => sha256(concat([0], entry));
  const nodeHash = (left, right) => sha256(concat([1], left, right));

  /** The root of a complete subtree from the 2^r hashes at its bottom. */
  async function reduce(hashes) {
    while (hashes.length > 1) {
      const next = [];
      for (let i = 0; i < hashes.length; i += 2) next.push(await nodeHash(hashes[i], hashes[i + 1]));
      hashes = next;
    }
    return hashes[0];
  }

  /** The bytes at ``path`` (relative to the site root ``root``); null if absent and ``optional``. */
  async function fetchBytes(root, path, optional = false) {
    let response;
    try {
      response = await fetch(root + path, { cache: "no-cache", credentials: "omit" });
    } catch (e) {
      fail("could not fetch " + path);
    }
    if (response.status === 404 && optional) return null;
    if (!response.ok) fail("could not fetch " + path + ": HTTP " + response.status);
    return new Uint8Array(await response.arrayBuffer());
  }

  // ---- (3) C2SP signed-note and tlog-checkpoint ---------------------------------

  /** A verifier key name+hexid+base64(0x01 ‖ key), its key ID checked (C2SP signed-note). */
  async function parseVerifierKey(text, what) {
    const m = /^([^+\s]+)\+([^+]*)\+(\S*)$/.exec(text.trim()); // base64 may hold "+"
    if (!m) fail(what + " is not a verifier key (want name+hexid+base64key)");
    const [line, name, idHex, key64] = m;
    if (!/^[0-9a-f]{8}$/.test(idHex)) fail(what + ": the key ID must be 8 lower-case hex digits");
    const raw = unbase64(key64, what);
    if (raw.length !== 33 || raw[0] !== 0x01) fail(what + " is not an Ed25519 (type 0x01) key");
    const id = (await sha256(concat(enc.encode(name), [0x0a], raw))).slice(0, 4);
    if (hex(id) !== idHex) fail(what + ": key ID " + idHex + " does not match the key (" + hex(id) + ")");
    let key;
    try {
      key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      fail("this browser cannot check Ed25519 signatures (WebCrypto): use the command line");
    }
    return { name, id, key, line };
  }

  /** The note text and its signature lines [{name, id, sig}] (C2SP signed-note §Format). */
  function parseNote(bytes) {
    const note = decode(bytes, "log/checkpoint");
    const split = note.lastIndexOf("\n\n");
    if (split < 0 || !note.endsWith("\n")) fail("log/checkpoint is not a signed note");
    const signatures = note.slice(split + 2, -1).split("\n").map((line) => {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) fail("log/checkpoint has a malformed signature line");
      const raw = unbase64(m[2], "a checkpoint signature");
      if (raw.length < 5) fail("log/checkpoint has a truncated signature");
      return { name: m[1], id: raw.slice(0, 4), sig: raw.slice(4) };
    });
    return { text: note.slice(0, split + 1), signatures };
  }

  /** Whether a signature line of ``note`` with the key's name and ID verifies (§Signatures). */
  async function signedBy(note, vkey) {
    for (const s of note.signatures) {
      if (s.name === vkey.name && equal(s.id, vkey.id) && s.sig.length === 64 &&
          (await crypto.subtle.verify("Ed25519", vkey.key, s.sig, enc.encode(note.text)))) return true;
    }
    return false;
  }

  /** Origin, size and root of checkpoint text (C2SP tlog-checkpoint §Note text). */
  function parseCheckpoint(text) {
    const lines = text.slice(0, -1).split("\n");
    if (lines.length < 3 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) fail("log/checkpoint is malformed");
    const size = Number(lines[1]);
    if (!Number.isSafeInteger(size)) fail("the log is too large for this page: use the command line");
    const root = unbase64(lines[2], "the checkpoint root hash");
    if (root.length !== HASH_SIZE) fail("the checkpoint root hash is not 32 bytes");
    return { origin: lines[0], size, root };
  }

  // ---- (4, 5) C2SP tlog-tiles ------------------------------------------------------

  /** "000", "x001/234": the index path of tile ``n`` (C2SP tlog-tiles §APIs). */
  function tileIndex(n) {
    const digits = String(n).padStart(Math.ceil(String(n).length / 3) * 3, "0");
    const groups = digits.match(/.{3}/g);
    return groups.map((g, i) => (i < groups.length - 1 ? "x" + g : g)).join("/");
  }

  /** The tiles and bundles of the tree in ``checkpoint``. Call checkEdge() before any proof:
   *  it authenticates the right-edge (partial) tiles; tile() checks each full tile against
   *  the tile above it. */
  class TileReader {
    constructor(root, checkpoint) {
      this.root = root;
      this.checkpoint = checkpoint;
      this.tiles = new Map(); // "L/n" → { path, hashes, checked }
    }

    /** How many hashes (level -1: entries) tile ``n`` of ``level`` holds at this size. */
    width(level, n) {
      const count = Math.floor(this.checkpoint.size / TILE_WIDTH ** Math.max(level, 0));
      return Math.min(TILE_WIDTH, count - n * TILE_WIDTH);
    }

    /** A tile or bundle; a missing partial one falls back to the full tile (§Partial Tiles). */
    async fetchTile(level, n) {
      const width = this.width(level, n);
      const full = "log/tile/" + (level < 0 ? "entries" : level) + "/" + tileIndex(n);
      const path = width < TILE_WIDTH ? full + ".p/" + width : full;
      const data = await fetchBytes(this.root, path, width < TILE_WIDTH);
      return data ? { path, data, width } : { path: full, data: await fetchBytes(this.root, full), width };
    }

    /** The entries of bundle ``n``, each a big-endian uint16 length and its bytes (§Log entries). */
    async bundle(n) {
      const { path, data, width } = await this.fetchTile(-1, n);
      const entries = [];
      for (let at = 0; at < data.length; at += 2 + entries[entries.length - 1].length) {
        const length = at + 2 <= data.length ? (data[at] << 8) | data[at + 1] : Infinity;
        if (at + 2 + length > data.length) fail(path + " is truncated");
        entries.push(data.slice(at + 2, at + 2 + length));
      }
      if (entries.length < width) fail(path + " holds " + entries.length + " entries, want " + width);
      return { path, entries };
    }

    /** The authenticated hashes of tile (level, n). */
    async tile(level, n) {
      const key = level + "/" + n;
      if (!this.tiles.has(key)) {
        const { path, data, width } = await this.fetchTile(level, n);
        if (data.length !== width * HASH_SIZE && data.length !== TILE_WIDTH * HASH_SIZE) {
          fail(path + " is " + data.length + " bytes, want " + width * HASH_SIZE);
        }
        const hashes = Array.from({ length: width }, (_, i) => data.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE));
        this.tiles.set(key, { path, hashes, checked: width < TILE_WIDTH });
      }
      const tile = this.tiles.get(key);
      if (!tile.checked) { // a full tile hashes to its entry in the tile above
        const parent = await this.tile(level + 1, Math.floor(n / TILE_WIDTH));
        if (!equal(await reduce(tile.hashes), parent.hashes[n % TILE_WIDTH])) {
          fail("tile " + tile.path + " does not match its hash in " + parent.path);
        }
        tile.checked = true;
      }
      return tile;
    }

    /** The partial tiles alone give the tree hash: it must be the checkpoint root. */
    async checkEdge() {
      if (!equal(await this.rangeHash(0, this.checkpoint.size), this.checkpoint.root)) {
        const edge = Array.from(this.tiles.values(), (t) => t.path).join(", ");
        fail("the tiles " + edge + " do not match the checkpoint root");
      }
    }

    /** Hash of the 2^k leaves from leaf j·2^k: read from tile level ⌊k/8⌋, the 2^(k mod 8)
     *  hashes below it recomputed within that tile (C2SP tlog-tiles). */
    async subtreeHash(k, j) {
      const count = 2 ** (k % 8);
      const first = j * count; // its first hash at this tile level
      const tile = await this.tile(Math.floor(k / 8), Math.floor(first / TILE_WIDTH));
      return reduce(tile.hashes.slice(first % TILE_WIDTH, first % TILE_WIDTH + count));
    }

    /** MTH(D[lo:hi]), lo a multiple of a power of two ≥ hi - lo (RFC 9162 §2.1.1): its
     *  aligned complete subtrees, largest first, folded from the right. */
    async rangeHash(lo, hi) {
      const parts = [];
      while (lo < hi) {
        let k = 0;
        while (lo % 2 ** (k + 1) === 0 && lo + 2 ** (k + 1) <= hi) k++;
        parts.push(await this.subtreeHash(k, lo / 2 ** k));
        lo += 2 ** k;
      }
      let acc = parts.pop();
      while (parts.length) acc = await nodeHash(parts.pop(), acc);
      return acc;
    }

    /** PATH(m, D[lo:hi]), the inclusion proof of leaf m (RFC 9162 §2.1.3.1). */
    async inclusionProof(m, lo = 0, hi = this.checkpoint.size) {
      if (hi - lo <= 1) return [];
      let k = 1;
      while (k * 2 < hi - lo) k *= 2;
      if (m < lo + k) return [...(await this.inclusionProof(m, lo, lo + k)), await this.rangeHash(lo + k, hi)];
      return [...(await this.inclusionProof(m, lo + k, hi)), await this.rangeHash(lo, lo + k)];
    }
  }

  /** (6) Whether ``proof`` proves leaf ``index`` (hash ``leaf``) in (size, root): RFC 9162 §2.1.3.2. */
  async function verifyInclusion(index, size, leaf, proof, root) {
    if (index >= size) return false;
    let [fn, sn, r] = [index, size - 1, leaf];
    for (const p of proof) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
      } else {
        r = await nodeHash(r, p);
      }
      [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
    }
    return sn === 0 && equal(r, root);
  }

  // ---- the steps ---------------------------------------------------------------------

  /** (2) The entries the lookup index lists for ``hash`` ([] if none), or null without an index. */
  async function lookup(root, hash, pageHash) {
    const line = async (h) => {
      const shard = await fetchBytes(root, "index/sha256/" + h.slice(0, 3), true);
      return shard && decode(shard, "the lookup index").split("\n").find((l) => l.startsWith(h + " "));
    };
    const found = await line(hash);
    if (found) {
      const indexes = found.split(" ").slice(1).map(Number);
      if (!indexes.length || !indexes.every(Number.isSafeInteger)) fail(`the lookup index line for ${hash} is malformed`);
      return indexes;
    }
    // Not listed: not in the log, if the index lists this page's own version (else there is no index).
    return hash === pageHash || !(await line(pageHash)) ? null : [];
  }

  /** (3) Check the checkpoint with each key, reporting each; the key trusted last. */
  async function checkKeys(note, checkpoint, keys, report) {
    const failures = [];
    let trusted = "";
    for (const [what, text] of keys) {
      try {
        const vkey = await parseVerifierKey(text, what);
        if (vkey.name !== checkpoint.origin) {
          fail(`the checkpoint's origin ${checkpoint.origin} is not the name of ${what} (${vkey.name})`);
        }
        if (!(await signedBy(note, vkey))) fail(`the checkpoint signature does not verify with ${what} ${vkey.line}`);
        report(`(3) The checkpoint (tree size ${checkpoint.size}) is signed by ${what}, ${vkey.line}.`);
        trusted = `${what} ${vkey.line}`;
      } catch (e) {
        if (!(e instanceof Failure)) throw e;
        failures.push(e.message);
      }
    }
    if (failures.length) fail(failures.join("; "));
    return trusted;
  }

  async function verify(file, form, info, report) {
    const page = form.dataset;
    const root = page.root || "";
    const pageEntry = Number(page.entry);
    const hash = hex(await sha256(new Uint8Array(await file.arrayBuffer())));
    report("(1) The file " + file.name + " (" + file.size + " bytes) has SHA-256 " + hash + ".");

    const found = await lookup(root, hash, page.sha256);
    if (found && !found.length) fail("the file's SHA-256 is " + hash + ", which is not in the log");
    const index = !found || found.includes(pageEntry) ? pageEntry : found[0];
    const others = found && found.length > 1 ? ` (it lists entries ${found.join(", ")})` : "";
    report(found ? `(2) The lookup index lists it as entry ${index} of the log${others}.`
      : "(2) The site has no lookup index, so this checks the entry of this page, " + index + ".");

    const note = parseNote(await fetchBytes(root, "log/checkpoint"));
    const checkpoint = parseCheckpoint(note.text);
    const keys = [["the key published at log/vkey", decode(await fetchBytes(root, "log/vkey"), "log/vkey")]];
    if (form.elements.key.value.trim()) keys.push(["the pasted key", form.elements.key.value]);
    const trusted = await checkKeys(note, checkpoint, keys, report);

    if (index >= checkpoint.size) fail(`entry ${index} is beyond the checkpoint's tree size ${checkpoint.size}`);
    const tiles = new TileReader(root, checkpoint);
    const bundle = await tiles.bundle(Math.floor(index / TILE_WIDTH));
    const bytes = bundle.entries[index % TILE_WIDTH];
    let entry = null;
    try {
      entry = JSON.parse(decode(bytes, `entry ${index}`));
    } catch (e) {
      fail(`entry ${index} in ${bundle.path} is not JSON`);
    }
    const recorded = (entry && entry.sha256) || "no file";
    if (recorded !== hash) fail(`the file's SHA-256 is ${hash}, but entry ${index} records ${recorded}`);
    const item = entry.item || entry.path;
    report(`(4) Entry ${index} (${entry.type}, ${entry.time}) records this SHA-256 for ${item}.`);

    await tiles.checkEdge();
    const leaf = await leafHash(bytes);
    const tile0 = await tiles.tile(0, Math.floor(index / TILE_WIDTH));
    if (!equal(leaf, tile0.hashes[index % TILE_WIDTH])) {
      fail(`entry ${index} in ${bundle.path} does not match its hash in ${tile0.path}`);
    }
    const proof = await tiles.inclusionProof(index);
    report(`(5) The hash tiles match the checkpoint root and give an inclusion proof of ${proof.length} hashes.`);

    if (!(await verifyInclusion(index, checkpoint.size, leaf, proof, checkpoint.root))) {
      fail("the inclusion proof of entry " + index + " does not verify against the checkpoint root");
    }
    report("(6) The inclusion proof verifies against the checkpoint root (RFC 9162 §2.1.3.2).");
    const here = index === pageEntry && item === page.item;
    return (here && info ? "This file is version " + info.version + " of " + item : "This file is " + item) +
      ", entry " + index + " of the log, included in the checkpoint of size " + checkpoint.size +
      " signed by " + trusted + "." + (here ? "" : " It is not the version shown on this page.");
  }

  // ---- the page ------------------------------------------------------------------------

  const STATUS = {
    current: (i) => `Version ${i.version} is the current version of ${i.item}.`,
    superseded: (i) => `Version ${i.version} of ${i.item} is superseded: the item has ${i.versions} versions.`,
    withdrawn: (i) => `Version ${i.version} was the last version of ${i.item}, which has been withdrawn.`,
  };

  /** This version's record, index.json beside the page (null if unreadable). */
  async function versionFacts() {
    try {
      const info = JSON.parse(decode(await fetchBytes("", "index.json"), "index.json"));
      return Number.isSafeInteger(info.version) && STATUS[info.status] ? info : null;
    } catch (e) {
      return null;
    }
  }

  function start() {
    const form = document.getElementById("verify-form");
    const output = document.getElementById("verify-result");
    if (!form || !output) return;
    if (location.protocol === "file:" || !window.crypto || !crypto.subtle) {
      output.textContent = location.protocol === "file:"
        ? "This page was opened from a file, and a browser does not let such a page read the log: " +
          "serve the mirror (smki serve) or use the command line below."
        : "This browser cannot verify here (WebCrypto needs an https:// or local page): " +
          "use the command line below.";
      return;
    }
    form.hidden = false;
    const facts = versionFacts();
    facts.then((info) => {
      const line = document.getElementById("verify-status");
      if (info && line) line.textContent = STATUS[info.status](info);
    });
    let runs = 0; // a new run replaces the output; only the latest sets its state
    const run = async (file) => {
      const mine = ++runs;
      const summary = document.createElement("p");
      const list = document.createElement("ul"); // the steps carry their own numbers
      const say = (text, cls) => {
        const li = list.appendChild(document.createElement("li"));
        li.textContent = text;
        li.className = cls;
      };
      summary.className = "verify-summary";
      summary.textContent = "Verifying " + file.name + "…";
      output.replaceChildren(summary, list);
      output.dataset.state = "running";
      let state = "verified";
      try {
        const verdict = await verify(file, form, await facts, (text) => say(text, "verify-ok"));
        summary.textContent = "Verified. " + verdict;
      } catch (e) {
        const what = e instanceof Failure ? e.message : "an unexpected error: " + e;
        summary.textContent = "Not verified: " + what + ".";
        say("Failed: " + what + ".", "verify-failed");
        state = "failed";
      }
      if (mine === runs) output.dataset.state = state;
    };
    const chosen = (files) => files && files.length && run(files[0]);
    form.addEventListener("submit", (event) => { event.preventDefault(); chosen(form.elements.file.files); });
    form.elements.file.addEventListener("change", () => chosen(form.elements.file.files));
    const drop = document.getElementById("verify-drop") || form;
    drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("verify-dragging"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("verify-dragging"));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("verify-dragging");
      chosen(event.dataTransfer.files);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
