// The console's views, one module each; each registers itself with nav.js when imported.
export const VIEW_MODULES = ["./account.js", "./student.js", "./integrator.js", "./admin.js"];
