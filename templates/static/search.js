/* Site search: exact look-ups first, then Pagefind's full-text index.
 *
 * A query shaped like a SHA-256 (64 hex digits) goes through the lookup index
 * index/sha256/<h[0:3]>; a log entry number, an EUI-64 or a certificate
 * serial number through search/exact.json; anything else (and those too) through
 * Pagefind's JS API, with family and status filters read from each page's meta. A classic
 * script without inline code: results are built with DOM calls, never innerHTML.
 */
(function () {
  "use strict";

  const form = document.getElementById("search-form");
  if (!form) return;
  const root = new URL(form.dataset.root || "", document.baseURI);
  const status = document.getElementById("search-status");
  const list = document.getElementById("search-results");
  const input = form.elements.q;
  let pagefind = null;
  let exact = null;
  let generation = 0; // only the latest query may write results

  async function fetchText(path) {
    const response = await fetch(new URL(path, root), { credentials: "omit" });
    return response.ok ? response.text() : null;
  }

  /** Pagefind's module, loaded once, its result URLs made relative to this site's root. */
  async function engine() {
    if (!pagefind) {
      pagefind = await import(new URL("pagefind/pagefind.js", root).href);
      await pagefind.options({ baseUrl: root.pathname });
      await pagefind.init();
    }
    return pagefind;
  }

  async function exactMap() {
    if (!exact) exact = JSON.parse((await fetchText("search/exact.json")) || "{}");
    return exact;
  }

  /** Exact matches for the query's shape: [{url, title, why}] (url null: a known miss).
   *  Keys are normalised as generator/site/search.py writes them: hex digits, no leading 0. */
  async function exactMatches(query) {
    const q = query.trim().toLowerCase();
    const map = await exactMap();
    const found = [];
    const add = (hits, why) => (hits || []).forEach((h) => found.push({ url: h.url, title: h.title, why }));
    if (/^[0-9a-f]{64}$/.test(q)) {
      const bucket = (await fetchText("index/sha256/" + q.slice(0, 3))) || "";
      const line = bucket.split("\n").find((l) => l.startsWith(q + " "));
      if (!line) return [{ url: null, title: "No logged file has SHA-256 " + q + ".", why: "SHA-256" }];
      line.split(" ").slice(1).forEach((e) => add([(map.entries || {})[e] || entryTarget(e)], "SHA-256, log entry " + e));
      return found;
    }
    if (/^(0|[1-9][0-9]*)$/.test(q) && Number(q) < (map.size || 0)) {
      add([(map.entries || {})[q] || entryTarget(q)], "log entry " + q);
    }
    const key = q.replace(/[\s:.-]/g, "").replace(/^0+(?=.)/, "");
    if (/^[0-9a-f]+$/.test(key)) {
      add((map.eui64 || {})[key], "EUI-64");
      add((map.serials || {})[key], "serial number");
    }
    return found;
  }

  function entryTarget(e) {
    return { url: "log/entry/" + e + "/index.html", title: "Log entry " + e };
  }

  /** Pagefind's excerpt (text with <mark>) as DOM nodes, parsed inertly. */
  function excerptNodes(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    return Array.from(doc.body.childNodes, (node) => {
      if (node.nodeName === "MARK") {
        const mark = document.createElement("mark");
        mark.textContent = node.textContent;
        return mark;
      }
      return document.createTextNode(node.textContent);
    });
  }

  /** A result: its title (a link), the page's path in the site, and a detail line. */
  function item(url, title, detail) {
    const li = document.createElement("li");
    const heading = li.appendChild(document.createElement(url ? "a" : "span"));
    heading.textContent = title;
    if (url) {
      const target = new URL(url, root);
      heading.href = target.href;
      const path = li.appendChild(document.createElement("p"));
      path.className = "search-path";
      path.textContent = decodeURIComponent(target.pathname.slice(root.pathname.length)).replace(/index\.html$/, "");
    }
    if (detail) {
      const p = document.createElement("p");
      p.append(...(typeof detail === "string" ? [document.createTextNode(detail)] : detail));
      li.appendChild(p);
    }
    return li;
  }

  function filters() {
    const chosen = {};
    form.querySelectorAll("select[data-filter]").forEach((select) => {
      if (select.value) chosen[select.dataset.filter] = [select.value];
    });
    return chosen;
  }

  async function run() {
    const query = input.value.trim();
    const mine = ++generation;
    const url = new URL(location.href);
    url.searchParams.set("q", query);
    history.replaceState(null, "", url);
    if (!query) {
      list.replaceChildren();
      status.textContent = "";
      return;
    }
    status.textContent = "Searching for " + query + "…";
    delete status.dataset.state;
    try {
      const hits = await exactMatches(query);
      const pf = await engine();
      const search = await pf.search(query);
      const pages = await matching(search.results, filters());
      if (mine !== generation) return;
      list.replaceChildren(
        ...hits.map((h) => item(h.url, h.title, h.url ? "Exact match: " + h.why + "." : "")),
        ...pages.map((p) => item(p.url, (p.meta && p.meta.title) || p.url, excerptNodes(p.excerpt))),
      );
      const matched = hits.filter((h) => h.url).length;
      const found = pages.total;
      status.textContent = (matched ? matched + " exact " + (matched === 1 ? "match" : "matches") + " and " : "") +
        found + " " + (found === 1 ? "page" : "pages") + " found for " + query +
        (found > pages.length ? " (the first " + pages.length + " shown)." : ".");
      status.dataset.state = "done";
    } catch (e) {
      if (mine !== generation) return;
      status.textContent = "Search failed: " + e.message;
      status.dataset.state = "failed";
    }
  }

  /**
   * The results whose page facets (Pagefind meta "family" and "status") match the
   * chosen filters: the first 20 shown, at most 200 examined. Facets are page meta,
   * not Pagefind filters, because Pagefind 1.5 writes its filter indexes in
   * hash-map order, which would make two builds of one history differ.
   */
  async function matching(results, chosen) {
    const shown = [];
    let total = 0;
    const wanted = Object.entries(chosen);
    for (let i = 0; i < results.length && i < 200; i += 20) {
      const batch = await Promise.all(results.slice(i, i + 20).map((r) => r.data()));
      for (const page of batch) {
        const meta = page.meta || {};
        if (wanted.every(([name, values]) => values.includes(meta[name]))) {
          total += 1;
          if (shown.length < 20) shown.push(page);
        }
      }
      if (!wanted.length) {
        total = results.length;
        break;
      }
    }
    shown.total = total;
    return shown;
  }

  const FACETS = {
    family: ["documents", "certificates/ca", "certificates/organisation", "certificates/device",
      "crls", "approvals", "lodgements", "incidents", "policy", "log", "items", "site"],
    status: ["current", "superseded", "withdrawn"],
  };

  /** One <select> per facet (family, status). */
  async function showFilters() {
    const box = document.getElementById("search-filters");
    if (!box) return;
    for (const name of Object.keys(FACETS)) {
      const label = document.createElement("label");
      const select = document.createElement("select");
      select.dataset.filter = name;
      label.append(name.charAt(0).toUpperCase() + name.slice(1) + " ", select);
      select.append(new Option("any", ""));
      for (const value of FACETS[name]) select.append(new Option(value, value));
      select.addEventListener("change", run);
      box.appendChild(label);
    }
    box.hidden = false;
    await engine();
  }

  form.hidden = false;
  document.querySelectorAll(".search-nojs").forEach((el) => { el.hidden = true; });
  let timer = 0;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, 250);
  });
  input.value = new URLSearchParams(location.search).get("q") || "";
  showFilters().then(run, (e) => { status.textContent = "Search is unavailable: " + e.message; });
})();
