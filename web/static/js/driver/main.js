// The driver app (phone): not built yet.
import { placeholder } from "../core/placeholder.js";

placeholder("driver", ["driver"]);
