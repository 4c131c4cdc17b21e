import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./ui/app.js";
import "./ui/styles.css";

const root = document.getElementById("root");
if (root)
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
