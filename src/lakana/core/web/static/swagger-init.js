// Starts the vendored Swagger UI on Lakana's OpenAPI document (external file: strict CSP).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui",
    syntaxHighlight: false, deepLinking: true });
});
