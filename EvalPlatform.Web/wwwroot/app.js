// Small helpers the Blazor pages call through JS interop.
window.evalPlatform = {
  scrollY: () => window.scrollY,
};
