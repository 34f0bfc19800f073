// The API as the viewer calls it: a bearer token, no cookies, no referrer; errors as
// ApiError with the problem's detail.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export class ApiClient {
  /** base() and token() are asked on every call: the element's attributes may change. */
  constructor(base, token) {
    this.base = base;
    this.token = token;
  }

  async fetch(path, params = {}) {
    const url = new URL(this.base() + path);
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined) url.searchParams.set(name, value);
    }
    const token = this.token();
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const response = await fetch(url, { headers, credentials: "omit", referrerPolicy: "no-referrer" });
    if (!response.ok) {
      let detail = `${response.status} ${response.statusText}`;
      try {
        detail = (await response.json()).detail ?? detail;
      } catch {}
      throw new ApiError(response.status, detail);
    }
    return response;
  }

  async json(path, params) {
    return (await this.fetch(path, params)).json();
  }

  async text(path, params) {
    return (await this.fetch(path, params)).text();
  }
}
