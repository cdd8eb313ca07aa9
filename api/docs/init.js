// Renders /openapi.json with Swagger UI, from this origin only: no online validator badge, no
// remote configuration, no "try it out" until the reader asks for it.
window.ui = window.SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#reference',
  deepLinking: true,
  validatorUrl: null,
  queryConfigEnabled: false,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  defaultModelsExpandDepth: 0,
});
