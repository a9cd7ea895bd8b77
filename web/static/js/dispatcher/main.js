// The dispatcher console (desktop): not built yet.
import { placeholder } from "../core/placeholder.js";

placeholder("dispatcher", ["dispatcher", "admin"]);
