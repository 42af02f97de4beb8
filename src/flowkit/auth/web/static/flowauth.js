// Small conveniences; every form works without them.
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const field = document.querySelector(copy.dataset.copy);
    field.select();
    navigator.clipboard?.writeText(field.value).then(() => (copy.textContent = "Copied"));
  }
  const confirmable = event.target.closest("[data-confirm]");
  if (confirmable && !window.confirm(confirmable.dataset.confirm)) event.preventDefault();
  for (const [attribute, value] of [["data-check-all", true], ["data-uncheck-all", false]]) {
    const button = event.target.closest(`[${attribute}]`);
    if (button) setBoxes(document.querySelector(button.getAttribute(attribute)).querySelectorAll("input[name=scope]"), value);
  }
});

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.matches("[data-submit-on-change]")) target.form.submit();
  const group = target.closest(".scope-group");
  if (!group) return;
  if (target.matches("[data-toggle-group]")) setBoxes(group.querySelectorAll("input[name=scope]"), target.checked);
  if (target.matches("[data-toggle-row]")) setBoxes(target.closest("tr").querySelectorAll("input[name=scope]"), target.checked);
  if (target.matches("[data-toggle-column]"))
    setBoxes(group.querySelectorAll(`input[name=scope][data-unit="${target.dataset.toggleColumn}"]`), target.checked);
  countScopes();
});

document.addEventListener("input", (event) => {
  if (!event.target.matches("[data-scope-filter]")) return;
  const text = event.target.value.toLowerCase();
  document.querySelectorAll(".scope-group").forEach((group) => {
    const match = !text || group.dataset.group.includes(text) || group.textContent.toLowerCase().includes(text);
    group.hidden = !match;
    if (text && match) group.open = true;
  });
});

function setBoxes(boxes, value) {
  boxes.forEach((box) => (box.checked = value));
  countScopes();
}

function countScopes() {
  document.querySelectorAll(".scope-group").forEach((group) => {
    const boxes = group.querySelectorAll("input[name=scope]");
    const checked = [...boxes].filter((box) => box.checked).length;
    group.querySelector("[data-group-count]").textContent = `${checked} of ${boxes.length}`;
    group.querySelector("[data-toggle-group]").checked = checked === boxes.length;
  });
  const all = document.querySelectorAll(".scope-picker input[name=scope]");
  const total = document.querySelector("[data-scope-count]");
  if (total) total.textContent = `(${[...all].filter((box) => box.checked).length} of ${all.length} chosen)`;
}

document.addEventListener("DOMContentLoaded", countScopes);
