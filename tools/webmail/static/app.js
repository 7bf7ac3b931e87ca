// craft-webmail: the login screen's script (static download).
document.addEventListener("DOMContentLoaded", function () {
  var f = document.querySelector("form");
  if (f) f.querySelector("input").focus();
});
