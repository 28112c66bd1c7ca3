/** The inline stylesheet and recording player of the timeline page (timeline-html.ts). */

export const CSS = `
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{padding:10px 16px;background:#1d2330;color:#fff}
header h1{font-size:16px;margin:0 0 4px}
header p{margin:2px 0;color:#c9d1e0}
.counts span{display:inline-block;margin-right:12px;white-space:nowrap}
section{padding:8px 16px}
h2{font-size:14px;margin:6px 0}
h2 small{font-weight:400;color:#5b6475;margin-left:8px}
table.summary{border-collapse:collapse;width:100%;background:#fff}
table.summary th,table.summary td{border-bottom:1px solid #dde1e8;padding:3px 6px;text-align:left;vertical-align:top}
table.summary th{background:#e9ecf1;font-weight:600;white-space:nowrap}
.nowrap,.id{white-space:nowrap}.id{font-family:ui-monospace,monospace;font-size:12px}
.num{text-align:right;font-variant-numeric:tabular-nums}
td.denied:not(:empty){color:#c92a2a;font-weight:600}
td.anomaly{color:#c92a2a;font-weight:600}td.ok{color:#2f9e44}
.tracks{position:relative;background:#fff;border:1px solid #dde1e8}
.track{display:flex;align-items:center;height:22px;border-bottom:1px solid #eef0f4}
.track-name{width:90px;flex:none;padding-left:6px;font-size:12px;color:#5b6475}
.track-area{position:relative;flex:1;height:100%;margin-right:12px}
.bar{position:absolute;top:5px;height:12px;min-width:3px;border-radius:3px;background:#4c6ef5;opacity:.85}
.track[data-lane=broker] .bar{background:#7950f2}.track[data-lane=kubernetes] .bar{background:#1c7ed6}
.bar.closed{background:#f08c00}.bar.deny{background:#c92a2a}
.tick{position:absolute;top:2px;width:2px;height:18px;background:#c92a2a}
.overlay{position:absolute;top:0;bottom:0;left:96px;right:12px;pointer-events:none}
.revocation{position:absolute;top:0;bottom:0;width:0;border-left:2px dashed #1d2330}
.scale{position:relative;height:16px;margin:0 12px 0 96px;font:11px ui-monospace,monospace;color:#5b6475}
.scale span{position:absolute;transform:translateX(-50%);white-space:nowrap}
.scale span:first-child{transform:none}.scale span:last-child{transform:translateX(-100%)}
.row-head,details.row>summary{display:grid;grid-template-columns:8.5em 6.5em 12em 8em 11em minmax(0,1fr);gap:8px;padding:2px 6px;align-items:baseline}
.row-head{font-weight:600;background:#e9ecf1;position:sticky;top:0}
details.row{border-bottom:1px solid #e3e6ec;background:#fff;border-left:3px solid #adb5c2}
details.row>summary{cursor:pointer;list-style:none;white-space:nowrap}
details.row>summary::-webkit-details-marker{display:none}
details.row>summary>span{overflow:hidden;text-overflow:ellipsis}
details.row[open]{background:#f1f4fa}
.t{font-family:ui-monospace,monospace;font-size:12px;color:#555;white-space:nowrap}
.lane{color:#5b6475}.ev{font-weight:600}
.target{font-family:ui-monospace,monospace;font-size:12px}
.badge{font-size:11px;padding:0 4px;border-radius:3px;background:#dde1e8;justify-self:start}
.badge.none{background:none}
.outcome-allow{border-left-color:#2f9e44!important}
.outcome-deny{border-left-color:#c92a2a!important;background:#fff0f0!important}
.outcome-deny .badge{background:#c92a2a;color:#fff}
.outcome-closed{border-left-color:#f08c00!important}
.outcome-closed .badge{background:#f08c00;color:#fff}
.lane-orphan{border-left-color:#c92a2a!important;background:#ffe3e3!important;color:#8a1010}
.flag{margin-left:8px;padding:0 4px;border-radius:3px;background:#c92a2a;color:#fff;font:600 11px system-ui,sans-serif}
table.kv{border-collapse:collapse;margin:4px 0 8px 9em;font-size:12px}
table.kv th{text-align:right;color:#5b6475;font-weight:400;padding:1px 10px 1px 0;white-space:nowrap;vertical-align:top}
table.kv td{font-family:ui-monospace,monospace;padding:1px 0;overflow-wrap:anywhere}
code.command{background:#1d2330;color:#e6e6e6;padding:1px 5px;border-radius:3px}
.player{margin:12px 0;border:1px solid #c5ccd8;border-radius:4px;background:#fff}
.player .controls{padding:6px;background:#e9ecf1}
.player pre{margin:0;padding:8px;background:#111;color:#e6e6e6;min-height:6em;max-height:30em;overflow:auto;white-space:pre-wrap}
.problem{color:#c92a2a}
`;

// The player: frames are [seconds, text] with escapes already stripped; text
// is appended with textContent, never parsed as HTML. Idle gaps capped at 2s.
export const PLAYER_JS = `
(function(){
  var players=document.querySelectorAll('.player');
  for(var i=0;i<players.length;i++)(function(el){
    var data=JSON.parse(document.getElementById(el.getAttribute('data-frames')).textContent);
    var pre=el.querySelector('pre'),btn=el.querySelector('button.play'),clock=el.querySelector('.clock');
    var next=0,timer=null,playing=false;
    function show(){clock.textContent=(next<data.length?data[next][0]:(data.length?data[data.length-1][0]:0)).toFixed(1)+'s'}
    function step(){
      if(next>=data.length){playing=false;btn.textContent='replay';return}
      pre.textContent+=data[next][1];pre.scrollTop=pre.scrollHeight;
      next++;show();
      if(next>=data.length){playing=false;btn.textContent='replay';return}
      var gap=Math.min(Math.max(data[next][0]-data[next-1][0],0),2);
      timer=setTimeout(step,gap*1000);
    }
    btn.addEventListener('click',function(){
      if(playing){clearTimeout(timer);playing=false;btn.textContent='play';return}
      if(next>=data.length){next=0;pre.textContent=''}
      playing=true;btn.textContent='pause';step();
    });
    show();
  })(players[i]);
})();
`;
