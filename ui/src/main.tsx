import { render } from "preact";
import { App } from "./App";
import "./styles.css";
import "./print/print.css";

render(<App />, document.getElementById("app")!);
