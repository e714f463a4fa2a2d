// Live notifications over a WebSocket with an application heartbeat, plus a
// status poll every 20 s, as many web dashboards do.
(function () {
  var feed = document.getElementById('feed');
  function add(text) {
    var li = document.createElement('li');
    li.textContent = new Date().toISOString() + ' ' + text;
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > 50) feed.removeChild(feed.lastChild);
  }
  function connect() {
    var ws = new WebSocket('wss://' + location.host + '/ws');
    var hb = null;
    ws.onopen = function () {
      document.getElementById('status').textContent = 'live';
      hb = setInterval(function () { ws.send(JSON.stringify({type: 'ping', t: Date.now()})); }, 25000);
    };
    ws.onmessage = function (e) {
      var m = JSON.parse(e.data);
      if (m.type === 'notification') { add(m.title); document.getElementById('unread').textContent = m.unread; }
    };
    ws.onclose = function () { clearInterval(hb); document.getElementById('status').textContent = 'reconnecting'; setTimeout(connect, 5000); };
  }
  function poll() {
    fetch('/api/poll', {cache: 'no-store'}).then(function (r) { return r.json(); })
      .then(function (j) { document.getElementById('unread').textContent = j.unread; })
      .catch(function () {});
  }
  connect();
  poll();
  setInterval(poll, 20000);
})();
