// The supervisor package's public entry: OTP-style supervisors, the child contract, OS process children and
// the typed errors callers may catch. The pure decision functions are exported for simulators and tests.
export { Supervisor } from './supervisor.js';
export type { SupervisorOptions, SupervisorState, ChildInfo, AsChildOptions } from './supervisor.js';
export { processChildSpec, processExitReason, ProcessInstance, DEFAULT_PROCESS_SHUTDOWN_MS } from './process-child.js';
export type { ProcessChildOptions } from './process-child.js';
export {
  ChildAlreadyExistsError,
  ChildNotFoundError,
  ChildStartError,
  ChildStateError,
  ProcessExitError,
  RestartIntensityError,
  REACHED_MAX_RESTART_INTENSITY,
  describeExit,
  isRestartIntensityExit,
  restartIntensityExit,
} from './errors.js';
export { planExit, planRestart, recordRestart, shouldRestart } from './decide.js';
export type { ChildView, ExitPlan, RestartPlan } from './decide.js';
export { isNormalExit } from './types.js';
export type { ChildInstance, ChildSpec, ChildStatus, ExitReason, RestartType, Shutdown, Strategy } from './types.js';
