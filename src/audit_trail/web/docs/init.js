// Swagger UI on the service's own OpenAPI document. A file of its own: the page's
// Content-Security-Policy allows no inline script.
window.ui = SwaggerUIBundle({
  url: "/apiv3/audit_trail/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: false,
  persistAuthorization: false,
  validatorUrl: null,
  tryItOutEnabled: false,
});
