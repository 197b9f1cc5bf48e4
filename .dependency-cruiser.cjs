// Architecture rules from DESIGN.md: no import cycles, and dependencies point inward
// (core uses nothing of the components; actions only use core).
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    { name: 'core-is-inward', severity: 'error', from: { path: '^core/' }, to: { path: '^(scheduler|router|runner|ui|actions|cli)/' } },
    { name: 'actions-use-core-only', severity: 'error', from: { path: '^actions/' }, to: { path: '^(scheduler|router|runner|cli)/' } },
    { name: 'daemons-do-not-import-cli', severity: 'error', from: { path: '^(scheduler|router|runner|ui)/' }, to: { path: '^cli/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
