/* Keyboard shortcuts for the review queue, as progressive enhancement: without this script every
   row is still a link and every decision is a form on the event page.
   j / k: next / previous event; o or Enter: open it; c: confirm it; d: dismiss it (asks for the reason).
   Decisions post the page's own quick-decision form (with its CSRF token) and come back to this view. */
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-event]"));
  if (!rows.length) { return; }
  var form = document.getElementById("quick-decision");
  var help = document.getElementById("queue-keys");
  if (help) { help.hidden = false; }
  var current = -1;

  function select(index) {
    if (index < 0 || index >= rows.length) { return; }
    if (current >= 0) { rows[current].classList.remove("current"); rows[current].removeAttribute("aria-current"); }
    current = index;
    rows[current].classList.add("current");
    rows[current].setAttribute("aria-current", "true");
    var link = rows[current].querySelector("a.open-event");
    if (link) { link.focus(); }
  }

  function decide(action) {
    if (!form || current < 0) { return; }
    var reason = "";
    if (action === "dismiss") {
      reason = window.prompt("Reason for dismissal");
      if (reason === null || !reason.trim()) { return; }
    }
    form.action = "/review/events/" + rows[current].getAttribute("data-event") + "/decision";
    form.elements.action.value = action;
    form.elements.reason.value = reason;
    form.submit();
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(t.tagName))) { return; }
    switch (ev.key) {
      case "j": select(current + 1); break;
      case "k": select(current < 0 ? 0 : current - 1); break;
      case "o":
        if (current >= 0) { window.location.href = rows[current].querySelector("a.open-event").href; }
        break;
      case "c": decide("confirm"); break;
      case "d": decide("dismiss"); break;
      default: return;
    }
    ev.preventDefault();
  });
})();
