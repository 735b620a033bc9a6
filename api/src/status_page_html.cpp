// The status page's HTML, CSS and script, self-contained (no CDN: headquarters' networks may be
// closed), and its login form.
#include "api/src/status_page.h"

namespace sitesync::api {

namespace {

constexpr const char* kStyle = R"CSS(
:root { font-family: system-ui, sans-serif; color: #1d2433; background: #f5f6f8; }
body { margin: 0; padding: 1rem; max-width: 70rem; margin: auto; }
h1 { font-size: 1.4rem; margin: 0 0 .2rem; } h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
.meta { color: #5b6475; font-size: .9rem; }
.card { background: #fff; border-radius: .5rem; padding: .8rem; box-shadow: 0 1px 2px #0002;
        overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e3e6eb;
         white-space: nowrap; }
th { color: #5b6475; font-weight: 600; }
tr.behind td { background: #fff6e0; } tr.revoked td { background: #fde8e8; color: #8a1c1c; }
.pill { border-radius: 1rem; padding: .1rem .5rem; font-size: .8rem; background: #e3e6eb; }
.revoked .pill { background: #f5b5b5; } .behind .pill { background: #ffd98a; }
svg { width: 100%; height: 8rem; } .bar { fill: #3867d6; }
form { display: flex; gap: .5rem; flex-wrap: wrap; } input { flex: 1; min-width: 12rem;
  padding: .5rem; font-size: 1rem; } button { padding: .5rem 1rem; font-size: 1rem; }
.problem { color: #8a1c1c; }
@media (max-width: 40rem) { body { padding: .5rem; } th, td { padding: .3rem; } }
)CSS";

constexpr const char* kScript = R"JS(
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};
const ago = iso => {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 90 ? s + ' s ago' : s < 5400 ? Math.round(s / 60) + ' min ago'
       : s < 172800 ? Math.round(s / 3600) + ' h ago' : Math.round(s / 86400) + ' days ago';
};
function table(id, head, rows) {
  const t = el('table', {id});
  t.append(el('thead', {}, el('tr', {}, ...head.map(h => el('th', {}, h)))));
  const body = el('tbody');
  for (const r of rows) body.append(r);
  t.append(body);
  return t;
}
function renderSites(d) {
  const rows = d.sites.map(s => {
    const cls = s.state === 'revoked' ? 'revoked' : s.behind ? 'behind' : '';
    return el('tr', {'class': cls, 'data-site': s.name, 'data-state': s.state},
      el('td', {}, s.name, s.this_node ? ' (this node)' : ''),
      el('td', {}, s.this_node ? '-' : ago(s.last_contact)),
      el('td', {}, s.changes_pending_to_site), el('td', {}, s.changes_pending_from_site),
      el('td', {}, s.behind ? s.lag_seconds + ' s' : '-'),
      el('td', {}, s.protocol_version ?? '-'),
      el('td', {}, el('span', {'class': 'pill'}, s.state)));
  });
  return table('sites', ['Site', 'Last contact', 'Pending to it', 'Pending from it', 'Lag',
                         'Protocol', 'State'], rows);
}
function renderConflicts(c) {
  const box = el('div', {id: 'conflicts'});
  const kinds = Object.entries(c.by_kind);
  box.append(el('p', {}, c.open + ' open'));
  const list = el('ul');
  for (const [kind, n] of kinds) list.append(el('li', {}, el('a', {href: '#kind-' + kind}, kind), ': ' + n));
  box.append(list);
  for (const [kind] of kinds) {
    box.append(el('h3', {id: 'kind-' + kind}, kind));
    box.append(table('', ['Customer', 'Field', 'Kept', 'Other'], c.listed.filter(x => x.kind === kind)
      .map(x => el('tr', {}, el('td', {}, x.customer), el('td', {}, x.field),
                   el('td', {}, x.winner?.value ?? ''), el('td', {}, x.loser?.value ?? '')))));
  }
  return box;
}
function renderNumbers(numbers) {
  return table('numbers', ['Site', 'Blocks', 'Left'], numbers.map(n => el('tr', {},
    el('td', {}, n.site), el('td', {}, n.blocks.map(b => b.first + '-' + b.last).join(', ')),
    el('td', {}, n.left))));
}
function renderChart(rate) {
  const ns = 'http://www.w3.org/2000/svg';
  const counts = rate.counts, top = Math.max(1, ...counts);
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('id', 'chart');
  svg.setAttribute('viewBox', '0 0 ' + counts.length + ' 100');
  svg.setAttribute('preserveAspectRatio', 'none');
  counts.forEach((n, i) => {
    if (!n) return;
    const r = document.createElementNS(ns, 'rect');
    const h = Math.max(1, 100 * n / top);
    r.setAttribute('x', Math.max(0, i - 3)); r.setAttribute('y', 100 - h);
    r.setAttribute('width', 4); r.setAttribute('height', h); r.setAttribute('class', 'bar');
    svg.append(r);
  });
  const box = el('div', {});
  box.append(svg, el('p', {'class': 'meta'}, 'Changes per minute since ' +
    new Date(rate.first_minute).toLocaleString() + '; the busiest minute: ' + top));
  return box;
}
async function refresh() {
  try {
    const r = await fetch('/status/data', {credentials: 'same-origin', cache: 'no-store'});
    if (r.status === 401 || r.status === 403) { location.reload(); return; }
    const d = await r.json();
    document.getElementById('title').textContent = d.site;
    document.getElementById('updated').textContent = 'Updated ' + new Date(d.generated_at).toLocaleString();
    document.getElementById('sites-box').replaceChildren(renderSites(d));
    document.getElementById('conflicts-box').replaceChildren(renderConflicts(d.conflicts));
    document.getElementById('numbers-box').replaceChildren(renderNumbers(d.numbers));
    document.getElementById('chart-box').replaceChildren(renderChart(d.changes_per_minute));
    document.body.dataset.loaded = 'true';
  } catch (e) {
    document.getElementById('updated').textContent = 'Not updated: ' + e;
  }
}
refresh();
setInterval(refresh, 10000);
)JS";

std::string page(const std::string& title, const std::string& body, const std::string& script) {
  return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
         "content=\"width=device-width, initial-scale=1\"><title>" +
         title + "</title><style>" + kStyle + "</style></head><body>" + body +
         (script.empty() ? "" : "<script>" + script + "</script>") + "</body></html>";
}

std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  return out;
}

const std::string kPage =
    page("sitesync status",
         "<h1 id=\"title\">sitesync</h1><div class=\"meta\" id=\"updated\">Loading...</div>"
         "<h2>Sites</h2><div class=\"card\" id=\"sites-box\"></div>"
         "<h2>Open conflicts</h2><div class=\"card\" id=\"conflicts-box\"></div>"
         "<h2>Customer numbers</h2><div class=\"card\" id=\"numbers-box\"></div>"
         "<h2>Changes, last 24 hours</h2><div class=\"card\" id=\"chart-box\"></div>",
         kScript);

}  // namespace

const char* const kStatusPageHtml = kPage.c_str();

std::string loginPageHtml(const std::string& problem) {
  return page(
      "sitesync status: log in",
      "<h1>sitesync status</h1><div class=\"card\"><p>Log in with your API token "
      "(<code>sitesync users token</code>).</p>" +
          (problem.empty() ? ""
                           : "<p class=\"problem\" id=\"problem\">" + escaped(problem) + "</p>") +
          "<form method=\"post\" action=\"/status/login\"><input type=\"password\" "
          "name=\"token\" placeholder=\"token\" autocomplete=\"current-password\" "
          "required><button type=\"submit\">Log in</button></form></div>",
      "");
}

}  // namespace sitesync::api
