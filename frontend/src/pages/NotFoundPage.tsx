import { Link } from "react-router";

export function NotFoundPage() {
  return (
    <div className="empty" data-testid="not-found">
      <h1>Page not found</h1>
      <p className="muted">There is nothing at this address.</p>
      <Link to="/projects">Back to projects</Link>
    </div>
  );
}
