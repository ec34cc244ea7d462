// SOS-box health page: refresh the table in place every 30 s (the page is rendered by the
// server; this fetches it again and swaps the rows and the summary, keeping the scroll).

const REFRESH_MS = 30000;

async function refresh() {
  try {
    const response = await fetch(location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok || response.redirected) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of ["boxes-body"]) {
      const fresh = doc.getElementById(id);
      const current = document.getElementById(id);
      if (fresh && current) current.replaceWith(document.adoptNode(fresh));
    }
    const summary = doc.querySelector("[data-testid=boxes-summary]");
    const shown = document.querySelector("[data-testid=boxes-summary]");
    if (summary && shown) shown.textContent = summary.textContent;
  } catch {
    // Offline for a moment: keep what is shown, try again next time.
  }
}

setInterval(refresh, REFRESH_MS);
