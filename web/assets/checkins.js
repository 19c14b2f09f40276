// The check-in pages' one behaviour that needs a script: liking and unliking an entry through the JSON API with the session's CSRF token, without leaving the page. Without the script the like form posts and the page reloads.
const root = document.getElementById("checkins");

if (root) {
  const workspace = root.dataset.workspace;
  const csrf = root.querySelector('input[name="csrf"]').value;

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.like-form");
    if (!form) return;
    event.preventDefault();
    const entry = form.closest("[data-entry]").dataset.entry;
    const button = form.querySelector("button.like");
    const wanted = form.elements.like.value === "true";
    button.disabled = true;
    let response;
    try {
      response = await fetch(`/api/v1/workspaces/${workspace}/checkins/entries/${entry}/like`, {
        method: wanted ? "PUT" : "DELETE",
        headers: { "X-CSRF-Token": csrf },
      });
    } catch {
      response = null;
    }
    button.disabled = false;
    if (!response || !response.ok) {
      // Let the form post instead: the server answers with the page or says what went wrong.
      form.submit();
      return;
    }
    const body = await response.json();
    button.setAttribute("aria-pressed", wanted ? "true" : "false");
    button.querySelector("[data-likes]").textContent = String(body.likes.length);
    form.elements.like.value = wanted ? "false" : "true";
  });
}
