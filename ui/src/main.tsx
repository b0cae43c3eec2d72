import { render } from "preact";
import { App } from "./App";
import "./styles.css";
import "./print/print.css";
import { registerIndicFonts } from "./fonts";

registerIndicFonts();

render(<App />, document.getElementById("app")!);
