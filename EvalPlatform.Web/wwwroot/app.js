// Small helpers the Blazor pages call through JS interop.
window.evalPlatform = {
  scrollY: () => window.scrollY,

  // Single-key shortcuts (the trace view's A, R, S, N, J, K, ?, 1–9, Escape). One document listener per
  // attached component; keys go to .NET only when the reader is not typing (input, textarea,
  // select, contenteditable) and no Ctrl/Alt/Meta is held, so browser and OS shortcuts still work.
  // Escape in a field marked data-shortcut-escape leaves it, so the keys work again.
  shortcuts: {
    _next: 1,
    _handlers: {},
    attach(dotnet, keys) {
      const wanted = new Set(keys);
      const id = this._next++;
      const handler = (e) => {
        const target = e.target instanceof Element ? e.target : null;
        const typing = target && (target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]') !== null);
        if (typing) {
          if (e.key === 'Escape' && target.closest('[data-shortcut-escape]')) {
            target.blur();
          }
          return;
        }
        if (e.ctrlKey || e.altKey || e.metaKey || e.isComposing || e.defaultPrevented) {
          return;
        }
        const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
        if (!wanted.has(key)) {
          return;
        }
        if (key.length === 1) {
          e.preventDefault(); // the letter must not also land somewhere (e.g. in a field focused by "n")
        }
        dotnet.invokeMethodAsync('OnKeyAsync', key).catch(() => {});
      };
      document.addEventListener('keydown', handler);
      this._handlers[id] = handler;
      return id;
    },
    detach(id) {
      const handler = this._handlers[id];
      if (handler) {
        document.removeEventListener('keydown', handler);
        delete this._handlers[id];
      }
    },
  },
};
