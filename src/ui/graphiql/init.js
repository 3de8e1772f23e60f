// GraphiQL on natplan's own copies of React, ReactDOM and GraphiQL (globals of their UMD builds,
// loaded before this file, declared for eslint in eslint.config.js). Requests go to /graphql with the token the UI saved in this tab's
// sessionStorage, unless the Headers editor sets an Authorization header of its own.
;(function () {
  'use strict'
  var token = sessionStorage.getItem('natplan-token') || ''
  document.getElementById('token-note').textContent = token
    ? 'Requests carry the API token saved in the UI (an Authorization header in Headers overrides it).'
    : 'No API token saved in the UI: set one there, or an Authorization header in Headers, when the server has tokens.'

  function hasAuthorization(headers) {
    return Object.keys(headers).some(function (k) {
      return k.toLowerCase() === 'authorization'
    })
  }

  function fetcher(params, opts) {
    var extra = (opts && opts.headers) || {}
    var headers = Object.assign({ 'content-type': 'application/json', accept: 'application/json' }, extra)
    if (token && !hasAuthorization(extra)) headers.authorization = 'Bearer ' + token
    return fetch('/graphql', { method: 'POST', headers: headers, body: JSON.stringify(params) }).then(function (res) {
      return res.json()
    })
  }

  var defaultQuery = [
    '# natplan GraphQL: the same data as the REST API under /v1.',
    'query Clusters {',
    '  clusters(limit: 20) {',
    '    items { name latestVersion versionCount createdAt }',
    '  }',
    '}',
    '',
  ].join('\n')

  var root = ReactDOM.createRoot(document.getElementById('graphiql'))
  root.render(React.createElement(GraphiQL, { fetcher: fetcher, defaultQuery: defaultQuery, shouldPersistHeaders: false }))
})()
