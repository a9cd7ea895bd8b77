// What the user's role in its account lets this app offer. The server owns the rule (api/people.py: each role
// calls only what it is for, else 403 customer_role_forbidden) and tells it in GET /me (`may`); the app hides what
// would be refused: a viewer reads but orders nothing, finance sees the money only, People is the admins' and the
// approvals queue the approvers'.
import { api } from "../core/api.js";

let me = null;

/** The logged-in user (GET /me), asked once per page load. */
export async function loadMe() {
  me ||= await api("/me");
  return me;
}

/** Whether the app may offer `capability` (unknown, e.g. /me failed: offered, and the server decides). */
export function can(capability) {
  return me?.may?.[capability] ?? true;
}

/** Whether any of the capabilities is offered. */
export function canAny(...capabilities) {
  return capabilities.some(can);
}
