// Runs the browser's code verifier (web/static/js/codes/verify.js) on cases read from stdin as JSON:
// {keys, cases: [{token, depot_id, now, plate}]} -> prints [{authorised, reasons, kind, subject, max_litres}].
import { verifyCode } from "../../../web/static/js/codes/verify.js";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));
const out = [];
for (const c of input.cases) {
  const r = await verifyCode(c.token, { keys: input.keys, depotId: c.depot_id, now: c.now, plate: c.plate, leeway: 0 });
  out.push({
    authorised: r.authorised,
    reasons: r.reasons,
    kind: r.payload?.kind ?? null,
    subject: r.payload?.subjectId ?? null,
    max_litres: r.payload?.maxLitres ?? null,
  });
}
console.log(JSON.stringify(out));
