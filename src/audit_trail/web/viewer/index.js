// The standalone viewer page: the token comes from the URL fragment (#token=…), which
// browsers never send to a server, or from the form; it is kept in memory only.

const form = document.getElementById("sign-in");
const viewer = document.querySelector("audit-trail-viewer");

function start(token) {
  viewer.token = token;
  viewer.hidden = false;
  form.hidden = true;
}

const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("token")) {
  start(fragment.get("token"));
  history.replaceState(null, "", location.pathname + location.search); // out of the address bar
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  start(new FormData(form).get("token"));
});
