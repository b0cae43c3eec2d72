import { useState } from "preact/hooks";
import { api } from "../lib/ipc";
import type { SessionView } from "../lib/types";
import { en } from "../strings/en";
import { ErrorBanner, Field, useAction } from "../components/common";

export function SignIn(props: { onSignedIn: (s: SessionView) => void }) {
  const [server, setServer] = useState(localStorage.getItem("vaidya.server") ?? "");
  const [email, setEmail] = useState(localStorage.getItem("vaidya.email") ?? "");
  const [password, setPassword] = useState("");
  const { busy, error, run } = useAction();

  const submit = async (e: Event) => {
    e.preventDefault();
    const s = await run(() => api.signIn(server.trim(), email.trim(), password));
    if (s) {
      // Only the server address and email are remembered here; secrets live in the OS keyring.
      localStorage.setItem("vaidya.server", server.trim());
      localStorage.setItem("vaidya.email", email.trim());
      setPassword("");
      props.onSignedIn(s);
    }
  };

  return (
    <form class="card narrow sign-in" onSubmit={submit}>
      <h1>{en.signIn.title}</h1>
      <ErrorBanner error={error} />
      <Field name="server" label={en.signIn.server} hint={en.signIn.serverHint} value={server} onInput={setServer} type="url" required />
      <Field name="email" label={en.signIn.email} value={email} onInput={setEmail} type="email" required autoFocus={!!server} />
      <Field name="password" label={en.signIn.password} value={password} onInput={setPassword} type="password" required />
      <button type="submit" class="primary" disabled={busy}>{busy ? en.signIn.working : en.signIn.submit}</button>
      <p class="muted small">{en.signIn.offlineNote}</p>
    </form>
  );
}
