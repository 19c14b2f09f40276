// The contacts page: contacts and organizations listed by name a page at a time, and the forms that create them.
import { api, el, href, list, problem, say } from "/assets/crm-1.js";

const $ = (id) => document.getElementById(id);

// One list (contacts or organizations): its rows, its "show more" button and its next cursor.
function lister(kind, cells) {
  const body = $(kind).querySelector("tbody");
  const more = $(`more-${kind}`);
  let cursor = null;
  const row = (record) => el("tr", { dataset: { id: record.id } },
    el("th", { scope: "row" }, el("a", { href: href(kind, record.id), text: record.name })),
    cells(record).map((text) => el("td", { text })));
  async function next() {
    const suffix = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const result = await api("GET", `/${kind}?sort=name&limit=50${suffix}`);
    if (!result.ok) return say($(`${kind}-error`), problem(result));
    body.append(...result.body[kind].map(row));
    cursor = result.body.next_cursor;
    more.hidden = !cursor;
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: String(cells({}).length + 1), class: "muted", text: `No ${kind} yet.` })));
  }
  more.addEventListener("click", next);
  return {
    next,
    added(record) {
      for (const empty of body.querySelectorAll("td[colspan]")) empty.closest("tr").remove();
      body.prepend(row(record));
    },
  };
}

const contacts = lister("contacts", (c) => [(c.emails || []).join(", "), c.title ?? ""]);
const organizations = lister("organizations", (o) => [(o.domains || []).join(", ")]);

function creator(formId, kind, noun, body, listed) {
  const form = $(formId);
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = $(`${noun}-status`);
    const result = await api("POST", `/${kind}`, body());
    status.replaceChildren();
    if (!result.ok) {
      status.className = "flash error";
      status.textContent = problem(result);
      return;
    }
    status.className = "flash success";
    status.append(`Created `, el("a", { href: href(kind, result.body.id), text: result.body.name }), ".");
    listed.added(result.body);
    form.reset();
  });
}

creator("create-contact", "contacts", "contact", () => ({
  name: $("contact-name").value.trim(),
  emails: list($("contact-emails").value),
  title: $("contact-title").value.trim(),
}), contacts);
creator("create-organization", "organizations", "organization", () => ({
  name: $("organization-name").value.trim(),
  domains: list($("organization-domains").value),
}), organizations);

Promise.all([contacts.next(), organizations.next()]).then(() => { document.getElementById("crm").dataset.ready = "true"; });
