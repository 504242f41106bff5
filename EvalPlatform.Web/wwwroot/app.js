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
  // The command palette: Ctrl+K / Cmd+K opens it from anywhere (even from a field), remembering where focus was so
  // Escape can put it back; while it is open, Tab stays in its field and the arrows do not move the caret.
  palette: {
    _dotnet: null,
    _returnTo: null,
    _handler: null,
    remember() {
      const active = document.activeElement;
      if (active && !active.closest('[data-testid=palette]')) {
        this._returnTo = active;
      }
    },
    restore() {
      const target = this._returnTo;
      this._returnTo = null;
      if (target && target.isConnected && typeof target.focus === 'function') {
        target.focus();
      }
    },
    attach(dotnet) {
      this.detach();
      this._dotnet = dotnet;
      this._handler = (e) => {
        if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === 'k' || e.key === 'K')) {
          e.preventDefault();
          if (!document.querySelector('[data-testid=palette]')) {
            this.remember();
          }
          dotnet.invokeMethodAsync('OpenFromKeyAsync').catch(() => {});
          return;
        }
        const input = e.target instanceof Element ? e.target.closest('[data-testid=palette-input]') : null;
        if (!input) {
          return;
        }
        if (e.key === 'Tab' || e.key === 'ArrowUp' || e.key === 'ArrowDown') {
          e.preventDefault();
        }
      };
      document.addEventListener('keydown', this._handler, true);
    },
    detach() {
      if (this._handler) {
        document.removeEventListener('keydown', this._handler, true);
      }
      this._handler = null;
      this._dotnet = null;
    },
  },
};
